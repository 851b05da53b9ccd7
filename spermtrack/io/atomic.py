"""Atomic file writing: an interrupted run leaves no half-written file.

Everything is written to a temporary file in the target's folder and renamed
into place only when complete (``os.replace`` is atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed
    and ``path`` is left as it was.

    Parameters
    ----------
    path : str or PathLike
        The final file name. Its folder is created if needed.

    Yields
    ------
    pathlib.Path
        Where to write; it keeps the final suffix so that writers that choose a
        format from the suffix (OpenCV, pandas compression) behave the same.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix="".join(path.suffixes) or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as indented, standard JSON to ``path`` atomically and return the path.

    NaN and infinities (anywhere in nested dicts and lists) are written as ``null``; numpy
    scalars and arrays as their Python values.
    """
    text = json.dumps(_finite(obj), indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    return write_text(path, text + "\n")


def write_csv(path: str | os.PathLike, table: pd.DataFrame, **kwargs) -> Path:
    """Write a table as CSV (gzip when the name ends in ``.gz``) atomically.

    Parameters
    ----------
    path : str or PathLike
        Target file.
    table : pandas.DataFrame
        The table; its index is not written.
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv`.
    """
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **kwargs)
    return Path(path)


def _finite(value: object) -> object:
    """Replace NaN and infinities in nested dicts/lists by None, so the JSON is standard."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
