"""Write the kinematics table and the sample summary (atomically: no half-written file is ever left).

The kinematics package depends only on :mod:`spermtrack.schema` and :mod:`spermtrack.errors`, so this
module carries its own small write-to-temporary-then-rename helper rather than importing
:mod:`spermtrack.io`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_kinematics", "KINEMATICS_FILE", "SUMMARY_FILE"]

KINEMATICS_FILE = "kinematics.csv"
SUMMARY_FILE = "summary.json"


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not math.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _finite(value: object) -> object:
    """Replace NaN and infinities (anywhere in nested dicts/lists) by None, so the JSON is standard."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value


def write_kinematics(out_dir: str | os.PathLike, kinematics_table: pd.DataFrame, summary: dict, *,
                     float_format: str = "%.6g") -> list[Path]:
    """Write ``kinematics.csv`` and ``summary.json`` into ``out_dir`` (created if needed), atomically.

    Parameters
    ----------
    out_dir : str or PathLike
        Output folder.
    kinematics_table : pandas.DataFrame
        One row per track (:func:`spermtrack.kinematics.compute_kinematics`); ungraded tracks have an
        empty ``grade``.
    summary : dict
        The sample summary (:func:`spermtrack.kinematics.summarize`); written as indented JSON, NaN as null.
    float_format : str
        Format of floats in the CSV.

    Returns
    -------
    list of pathlib.Path
        ``[out_dir/kinematics.csv, out_dir/summary.json]``.
    """
    out = Path(out_dir)
    table_path = _atomic(out / KINEMATICS_FILE,
                         lambda p: kinematics_table.to_csv(p, index=False, float_format=float_format))
    text = json.dumps(_finite(summary), indent=2, default=_json_default, allow_nan=False) + "\n"
    summary_path = _atomic(out / SUMMARY_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    return [table_path, summary_path]
