"""Write the VISEM-Tracking layout: one frame's label files (``labels/``, ``labels_ftid/``) and image.

The reader is :mod:`spermtrack.io.visem`; what is written here reads back as the same boxes. Every
file is written atomically.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import FTID_LABEL_DIR, IMAGE_DIR, LABEL_DIR, ftid_file_name, image_file_name, label_file_name
from spermtrack.io.atomic import atomic_path

__all__ = ["label_lines", "remove_stale_frame_files", "write_bytes", "write_frame_files"]


def label_lines(rows: pd.DataFrame, *, width: int, height: int) -> tuple[str, str]:
    """Label-file text for one frame: ``labels`` (YOLO) and ``labels_ftid`` lines.

    Each box is the truth box ``(x +/- w/2, y +/- h/2)`` clipped to the frame the way an annotator
    would draw it; rows whose centre is outside the frame are dropped. Coordinates are normalised by
    the frame size and written with 6 decimals.

    Parameters
    ----------
    rows : pandas.DataFrame
        Truth rows of one frame (``gt_id, class_id, x, y, w, h``).
    width, height : int
        Frame size, px.

    Returns
    -------
    (str, str)
        ``"class cx cy w h\\n"`` lines and ``"gt_id class cx cy w h\\n"`` lines (empty strings when
        there is no box).
    """
    if len(rows) == 0:
        return "", ""
    x = rows["x"].to_numpy(np.float64)
    y = rows["y"].to_numpy(np.float64)
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    w2 = rows["w"].to_numpy(np.float64) / 2
    h2 = rows["h"].to_numpy(np.float64) / 2
    x1, x2 = np.clip(x - w2, 0, width), np.clip(x + w2, 0, width)
    y1, y2 = np.clip(y - h2, 0, height), np.clip(y + h2, 0, height)
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    bw, bh = (x2 - x1) / width, (y2 - y1) / height
    cls = rows["class_id"].to_numpy(np.int64)
    ids = rows["gt_id"].astype(str).to_numpy()
    yolo, ftid = [], []
    for i in np.flatnonzero(keep):
        box = f"{cls[i]} {cx[i]:.6f} {cy[i]:.6f} {bw[i]:.6f} {bh[i]:.6f}\n"
        yolo.append(box)
        ftid.append(f"{ids[i]} {box}")
    return "".join(yolo), "".join(ftid)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_frame_files(folder: str | os.PathLike, video_id: str, frame: int, rows: pd.DataFrame, *, width: int,
                      height: int, image: bytes | None = None) -> None:
    """Write one frame of a video folder: ``labels/``, ``labels_ftid/`` and, given, ``images/`` (JPEG bytes).

    The label texts are :func:`label_lines` of ``rows`` (an empty file for a frame without boxes), so
    :func:`read_labels_ftid` and :func:`read_labels` read back the same boxes. Every file is written
    atomically.
    """
    folder = Path(folder)
    yolo, ftid = label_lines(rows, width=width, height=height)
    write_bytes(folder / LABEL_DIR / label_file_name(video_id, frame), yolo.encode())
    write_bytes(folder / FTID_LABEL_DIR / ftid_file_name(video_id, frame), ftid.encode())
    if image is not None:
        write_bytes(folder / IMAGE_DIR / image_file_name(video_id, frame), image)


def remove_stale_frame_files(folder: str | os.PathLike, video_id: str, n_frames: int, *, images: bool) -> None:
    """Delete per-frame files of ``video_id`` beyond ``n_frames`` (and all images when ``images`` is False),
    left by an earlier, longer run into the same folder."""
    folder = Path(folder)
    for sub, always in ((IMAGE_DIR, not images), (LABEL_DIR, False), (FTID_LABEL_DIR, False)):
        d = folder / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            m = _STALE_FILE.match(f.name)
            if m and m.group("id") == video_id and (always or int(m.group("n")) >= n_frames):
                f.unlink()


_STALE_FILE = re.compile(r"^(?P<id>.+)_frame_(?P<n>\d+)(_with_ftid)?\.(jpg|txt)$")
