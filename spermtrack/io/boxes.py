"""Per-frame box tables in pixels, as other sperm data sets publish them (e.g. SVIA / MIaMIA-SVDS).

One CSV row per box: ``frame`` (0-based, the clip's decode order), ``class`` (a name), ``xmin, ymin, xmax,
ymax`` in pixels. :func:`read_box_csv` turns it into the contract's detections layout (centre and size in
px, ``score`` 1, ``class_id``): the names in ``classes`` map to class ids (``sperm`` -> 0); any other
name (``impurity``, ...) becomes ``class_id`` -1, kept so that a caller can use it as a labelled
negative. Without track ids, such a table scores detection, not tracking.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

__all__ = ["BOX_COLUMNS", "read_box_csv"]

#: Columns a box CSV must have.
BOX_COLUMNS = ("frame", "class", "xmin", "ymin", "xmax", "ymax")


def read_box_csv(path: str | os.PathLike, *, classes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read a per-frame box CSV (see the module docstring).

    Parameters
    ----------
    path : str or PathLike
        The CSV file.
    classes : mapping of str to int, optional
        Class name -> class id (default ``{"sperm": 0}``); other names get ``class_id`` -1.

    Returns
    -------
    pandas.DataFrame
        ``frame, x, y, w, h, score, class_id, class_name`` sorted by frame (stable).

    Raises
    ------
    InputError
        The file cannot be read, a column is missing, or a row holds a negative frame, a non-number or
        a box whose max is not above its min (file and 1-based line named).
    """
    path = Path(path)
    classes = dict(classes or {"sperm": 0})
    try:
        table = pd.read_csv(path, dtype={"class": str}, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot be read as a box CSV: {exc}", path) from None
    missing = [c for c in BOX_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"is missing column(s) {', '.join(missing)} (a box CSV has {', '.join(BOX_COLUMNS)})", path)
    values = {}
    for col in ("frame", "xmin", "ymin", "xmax", "ymax"):
        numbers = pd.to_numeric(table[col], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(numbers))
        if len(bad):
            raise InputError(f"{col} is not a number: {table[col].iloc[bad[0]]!r}", path, int(bad[0]) + 2)
        values[col] = numbers
    frame = values["frame"]
    bad = np.flatnonzero((frame < 0) | (frame != np.round(frame)))
    if len(bad):
        raise InputError(f"frame must be a non-negative integer, got {table['frame'].iloc[bad[0]]!r}", path,
                         int(bad[0]) + 2)
    w = values["xmax"] - values["xmin"]
    h = values["ymax"] - values["ymin"]
    bad = np.flatnonzero((w <= 0) | (h <= 0))
    if len(bad):
        raise InputError("a box's xmax/ymax must be above its xmin/ymin", path, int(bad[0]) + 2)
    names = table["class"].astype(str).str.strip()
    out = pd.DataFrame({"frame": frame.astype(np.int64), "x": values["xmin"] + w / 2, "y": values["ymin"] + h / 2,
                        "w": w, "h": h, "score": 1.0,
                        "class_id": names.map(classes).fillna(-1).astype(np.int64).to_numpy(),
                        "class_name": names.to_numpy()})
    return out.sort_values("frame", kind="stable").reset_index(drop=True)
