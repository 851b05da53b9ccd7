"""The optional heavy dependencies (PyTorch, ultralytics) and their files.

The default install is slim: detection (blob, or yolo through ONNX Runtime), tracking, kinematics,
evaluation, ``analyze`` and the report need neither PyTorch nor ultralytics. Training a detector,
self-training, the CNN motility regressors, the per-sperm video model and yolo run from a PyTorch
``.pt`` checkpoint need them: ``pip install "spermtrack[train]"`` adds them. :func:`require` is the
one place that says so, in one line, before any work starts.
"""

from __future__ import annotations

import hashlib
import importlib.util
from os import PathLike

from spermtrack.errors import InputError

__all__ = ["TRAIN_EXTRA", "file_sha256", "require", "torch_file_kind"]

#: The extra that adds PyTorch, torchvision and ultralytics.
TRAIN_EXTRA = "train"


def require(*modules: str, purpose: str) -> None:
    """Refuse, in one line, to start work that needs ``modules`` when one of them is not installed.

    Parameters
    ----------
    *modules : str
        Top-level module names, e.g. ``"torch"``, ``"ultralytics"``.
    purpose : str
        What needs them, for the message (e.g. ``"the flow2d regressor"``).

    Raises
    ------
    InputError
        ``<purpose> needs <modules>, which this install leaves out: pip install "spermtrack[train]"``.
    """
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"{purpose} needs {' and '.join(missing)}, which this install leaves out: "
                         f'pip install "spermtrack[{TRAIN_EXTRA}]"')


def torch_file_kind(path: str | PathLike) -> str | None:
    """What a file is when it cannot be a ``torch.save`` file, for a one-line refusal.

    ``torch.save`` writes a zip archive (``PK\\x03\\x04``) or, in the legacy format, a pickle
    (``\\x80``). Only the first 4 bytes are read.

    Returns
    -------
    str or None
        ``None`` when the header fits ``torch.save``; otherwise ``"a text file"`` or
        ``"another format"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return None
    return "a text file" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "another format"


def file_sha256(*paths: str | PathLike) -> str:
    """Hex SHA-256 of the files' bytes, read one after the other (a checkpoint, or every frame image of a video)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
