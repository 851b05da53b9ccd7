"""The exact truth that :mod:`spermtrack.synth` writes beside a synthetic video, written and read back.

Two files in the video folder ``<id>/``: ``<id>_truth.csv.gz`` (per frame and object, exact sub-pixel
positions in the ground-truth columns) and ``<id>_objects.csv`` (one row per object, e.g. its grade).
A real VISEM-Tracking folder has neither.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from spermtrack.constants import objects_file_name, truth_file_name
from spermtrack.errors import InputError
from spermtrack.io.visem import read_csv_file
from spermtrack.io.visem_write import write_bytes
from spermtrack.schema import GT_COLUMNS, validate_ground_truth

__all__ = ["read_synthetic_truth", "write_synthetic_truth"]


def read_synthetic_truth(folder: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Read the exact truth that :mod:`spermtrack.synth` writes beside a synthetic video, if any.

    Parameters
    ----------
    folder : str or PathLike
        A video folder ``<id>/``.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame) or None
        ``(truth, objects)`` from ``<id>/<id>_truth.csv.gz`` (per frame and object: a ground-truth
        table with exact sub-pixel positions; validated as one when it holds the ground-truth
        columns, ``gt_id`` kept as str) and ``<id>/<id>_objects.csv`` (one row per object, e.g. its
        grade). ``None`` when neither file exists (a real video).

    Raises
    ------
    InputError
        Only one of the two files exists, or a file cannot be parsed or validated.
    """
    folder = Path(folder)
    truth_path = folder / truth_file_name(folder.name)
    objects_path = folder / objects_file_name(folder.name)
    if not truth_path.is_file() and not objects_path.is_file():
        return None
    for present, absent in ((truth_path, objects_path), (objects_path, truth_path)):
        if present.is_file() and not absent.is_file():
            raise InputError(f"synthetic truth is incomplete: {absent.name} is missing beside {present.name}",
                             folder)
    truth = read_csv_file(truth_path)
    if all(c in truth.columns for c in GT_COLUMNS):
        truth = validate_ground_truth(truth, name=str(truth_path))
    objects = read_csv_file(objects_path)
    return truth, objects


def write_synthetic_truth(folder: str | os.PathLike, video_id: str, truth: pd.DataFrame,
                          objects: pd.DataFrame) -> None:
    """Write the exact truth of a synthetic video, read back by :func:`read_synthetic_truth`.

    ``<id>_truth.csv.gz`` (the gzip header carries no name or time, so the same data give the same
    bytes) and ``<id>_objects.csv``, atomically.
    """
    import gzip

    folder = Path(folder)
    text = truth.to_csv(index=False, lineterminator="\n")
    write_bytes(folder / truth_file_name(video_id), gzip.compress(text.encode(), compresslevel=6, mtime=0))
    write_bytes(folder / objects_file_name(video_id), objects.to_csv(index=False, lineterminator="\n").encode())
