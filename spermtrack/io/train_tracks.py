"""Read the compact table of real VISEM-Tracking boxes (``train_tracks.csv.gz``), one ground truth per video.

The table holds the annotated boxes of many videos without their clips; :func:`read_train_tracks` turns it
into the same ground-truth tables :func:`spermtrack.io.visem.read_labels_ftid` gives.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError
from spermtrack.io.visem import COORD_TOLERANCE, check_frame_size, read_csv_file
from spermtrack.schema import CLASS_NAMES, Recording

__all__ = ["read_train_tracks"]

_TRAIN_COLUMNS = ("video", "frame", "track_id", "class_id", "cx", "cy", "w", "h")


def read_train_tracks(path: str | os.PathLike, *, videos: Sequence[str | int] | None = None,
                      um_per_px: float = VISEM_UM_PER_PX, seconds: float = 30.0, width: int = 640,
                      height: int = 480) -> dict[str, tuple[Recording, pd.DataFrame]]:
    """Read the compact table of real VISEM-Tracking boxes (``train_tracks.csv.gz``) per video.

    The table has one row per box: ``video, frame, track_id, class_id, cx, cy, w, h`` (frame 0-based,
    ``track_id`` the LabelBox string, box normalised to ``width`` x ``height``).

    Parameters
    ----------
    path : str or PathLike
        The CSV (gzip when named ``.gz``).
    videos : sequence of str or int, optional
        Only these video ids (default: all, in numeric order).
    um_per_px : float
        Pixel size in micrometres.
    seconds : float
        Length of every clip. The table holds no video, so each video's frame rate is
        ``fps = n_frames / seconds`` with ``n_frames = max(frame) + 1`` (VISEM-Tracking clips are
        30 s with 1,296-1,500 frames, 43-50 fps; e.g. 1,470 frames -> 49 fps). Trailing frames
        without any box are not counted.
    width, height : int
        Frame size in px (VISEM-Tracking: 640 x 480).

    Returns
    -------
    dict of str to (Recording, pandas.DataFrame)
        Per video id: its recording and a ground-truth table (columns as :func:`read_labels_ftid`:
        ``frame, x, y, w, h, score, class_id, track_id, gt_id``; ``track_id`` 1..N by first
        appearance by frame then row order, ``gt_id`` the LabelBox string).

    Raises
    ------
    InputError
        The file is missing or malformed (a missing column; a bad value, named with its 1-based line,
        the header being line 1), a requested video is not in the table, or an id occurs twice in
        one frame.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("does not exist", path)
    width, height = check_frame_size(width, height)
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise InputError(f"seconds must be a positive number, got {seconds!r}")
    table = read_csv_file(path, dtype={"video": str, "track_id": str})
    missing = [c for c in _TRAIN_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"is missing column(s) {', '.join(missing)}; expected {', '.join(_TRAIN_COLUMNS)}", path, 1)
    table["video"] = table["video"].astype(str).str.strip()
    numeric = {}
    for col in ("frame", "class_id", "cx", "cy", "w", "h"):
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if col in ("frame", "class_id"):
            bad |= (values != np.round(values)) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"column {col!r} has a bad value {table[col].iloc[row]!r}", path, row + 2)
        numeric[col] = values
    unknown = ~np.isin(numeric["class_id"], list(CLASS_NAMES))
    lo, hi = -COORD_TOLERANCE, 1.0 + COORD_TOLERANCE
    checks = [
        (unknown, "unknown class_id"),
        ((numeric["cx"] < lo) | (numeric["cx"] > hi) | (numeric["cy"] < lo) | (numeric["cy"] > hi),
         "centre outside [0, 1]"),
        ((numeric["w"] <= 0) | (numeric["h"] <= 0) | (numeric["w"] > hi) | (numeric["h"] > hi),
         "size not in (0, 1]"),
        (table["track_id"].isna().to_numpy(), "missing track_id"),
    ]
    for bad, what in checks:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(what, path, row + 2)

    ids = sorted(table["video"].unique(), key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v))
    if videos is not None:
        wanted = [str(v).strip() for v in videos]
        absent = [v for v in wanted if v not in set(ids)]
        if absent:
            raise InputError(f"has no video(s) {', '.join(absent)}; it holds {', '.join(ids)}", path)
        ids = list(dict.fromkeys(wanted))

    table_rows = np.arange(len(table))
    out: dict[str, tuple[Recording, pd.DataFrame]] = {}
    video_col = table["video"].to_numpy()
    for vid in ids:
        rows = table_rows[video_col == vid]
        rows = rows[np.argsort(numeric["frame"][rows], kind="stable")]
        frame = numeric["frame"][rows].astype(np.int64)
        gt_id = table["track_id"].to_numpy()[rows]
        key = pd.DataFrame({"frame": frame, "gt_id": gt_id})
        dup = key.duplicated().to_numpy()
        if dup.any():
            row = int(rows[np.flatnonzero(dup)[0]])
            raise InputError(f"video {vid}: track_id {table['track_id'].iloc[row]!r} occurs twice in frame "
                             f"{int(numeric['frame'][row])}", path, row + 2)
        codes, _ = pd.factorize(gt_id, sort=False)
        gt = pd.DataFrame({
            "frame": frame,
            "x": numeric["cx"][rows] * width,
            "y": numeric["cy"][rows] * height,
            "w": numeric["w"][rows] * width,
            "h": numeric["h"][rows] * height,
            "score": np.ones(len(rows)),
            "class_id": numeric["class_id"][rows].astype(np.int64),
            "track_id": codes.astype(np.int64) + 1,
            "gt_id": pd.array(gt_id, dtype=str),
        })
        n_frames = int(frame.max()) + 1
        rec = Recording(fps=n_frames / seconds, um_per_px=um_per_px, width=width, height=height,
                        n_frames=n_frames, source=f"{path}#video={vid}")
        out[vid] = (rec, gt)
    return out
