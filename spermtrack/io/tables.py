"""Contract tables as CSV files (plain or gzip): read with validation, write atomically.

Writing uses pandas' shortest round-trip float text, so a table read back equals the table written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.io.atomic import write_csv, write_json
from spermtrack.schema import validate_detections, validate_ground_truth, validate_tracks

__all__ = ["read_tracks_csv", "read_detections_csv", "write_table", "write_kinematics"]

KINEMATICS_FILE = "kinematics.csv"
SUMMARY_FILE = "summary.json"

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PANDAS_LINE = re.compile(r"line (\d+)")
_STRING_COLUMNS = {"gt_id": str, "video": str, "video_id": str}


def _suffix_ok(path: Path) -> bool:
    return any(path.name.lower().endswith(s) for s in _CSV_SUFFIXES)


def _header_line(path: Path) -> str:
    """The first non-blank line of a plain or gzip CSV ('' when it cannot be read as text)."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            for _, line in zip(range(100), fh):
                if line.strip():
                    return line.strip()
    except (OSError, EOFError):
        return ""
    return ""


def _check_comma_separated(path: Path, kind: str) -> None:
    """Refuse a table whose header is split by ';', tab or '|' instead of ',' (a spreadsheet's export).

    Raises
    ------
    InputError
        On line 1, naming the separator found.
    """
    header = _header_line(path)
    if "," in header:
        return
    for sep, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
        if len([f for f in header.split(sep) if f.strip()]) > 1:
            raise InputError(f"looks {name}-separated: a {kind} must be comma-separated, with '.' as the decimal "
                             "mark (save it as plain CSV)", path, 1)


def _read(path: str | os.PathLike, kind: str = "table") -> tuple[Path, pd.DataFrame]:
    path = Path(path)
    if not path.is_file():
        raise InputError("does not exist" if not path.exists() else "is not a file", path)
    _check_comma_separated(path, kind)
    try:
        # Blank lines are kept as all-empty rows so that row i is line i + 2 of the file.
        table = pd.read_csv(path, dtype=_STRING_COLUMNS, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise InputError("is empty (expected a CSV table with a header line)", path) from None
    except pd.errors.ParserError as exc:
        m = _PANDAS_LINE.search(str(exc))
        raise InputError(f"cannot be parsed as CSV: {exc}", path, int(m.group(1)) if m else None) from None
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise InputError(f"cannot be read as CSV: {exc}", path) from None
    # A trailing blank line is harmless: drop empty rows at the end only.
    empty = table.isna().all(axis=1).to_numpy()
    n = len(table)
    while n and empty[n - 1]:
        n -= 1
    return path, table.iloc[:n].reset_index(drop=True)


def _validated(path: Path, table: pd.DataFrame, validate: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    try:
        return validate(table, name=str(path))
    except InputError as exc:
        row = getattr(exc, "row", None)
        detail = getattr(exc, "detail", None) or str(exc)
        raise InputError(detail, path, 1 if row is None else row + 2) from None


def read_tracks_csv(path: str | os.PathLike, *, frame_size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Read and validate a tracks table from CSV (``.csv`` or ``.csv.gz``).

    Parameters
    ----------
    path : str or PathLike
        A CSV with a header line and at least the columns ``frame, x, y, w, h, score, class_id,
        track_id``; extra columns are kept. A ``gt_id`` column is read as str (so ``"007"`` stays
        ``"007"``) and validated as ground truth.
    frame_size : (int, int), optional
        ``(width, height)`` of the video, px: every centre must then lie inside the frame.

    Returns
    -------
    pandas.DataFrame
        The tracks table with canonical dtypes (see :mod:`spermtrack.schema`).

    Raises
    ------
    InputError
        The file is missing, empty or not CSV (a ``;``-, tab- or ``|``-separated export is named as
        such), or fails validation; the message names the file and the 1-based line (the header is
        line 1; a missing column is reported on line 1).
    """
    path, table = _read(path, "tracks table")
    validate = validate_ground_truth if "gt_id" in table.columns else validate_tracks
    out = _validated(path, table, validate)
    if frame_size is not None:
        check_inside_frame(out, frame_size, path)
    return out


def check_inside_frame(table: pd.DataFrame, frame_size: tuple[int, int], path: str | os.PathLike) -> None:
    """Refuse a row whose centre lies outside a ``(width, height)`` frame, naming the file line.

    Raises
    ------
    InputError
        The first such row, as ``path:line`` (the header is line 1).
    """
    width, height = frame_size
    x, y = table["x"].to_numpy(), table["y"].to_numpy()
    outside = (x < 0) | (x > width) | (y < 0) | (y > height)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise InputError(f"centre ({x[row]:g}, {y[row]:g}) lies outside the {width} x {height} px frame "
                         f"({int(outside.sum())} row(s) do)", path, row + 2)


def read_detections_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a detections table from CSV (``.csv`` or ``.csv.gz``).

    Parameters
    ----------
    path : str or PathLike
        A CSV with at least ``frame, x, y, w, h, score, class_id``; extra columns are kept.

    Returns
    -------
    pandas.DataFrame
        The detections table with canonical dtypes.

    Raises
    ------
    InputError
        As :func:`read_tracks_csv`.
    """
    path, table = _read(path, "detections table")
    return _validated(path, table, validate_detections)


def write_table(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a table as CSV atomically (gzip when the name ends in ``.csv.gz``), without the index.

    Parameters
    ----------
    path : str or PathLike
        Target ``.csv`` or ``.csv.gz`` file.
    table : pandas.DataFrame
        Any table; contract tables read back equal with :func:`read_tracks_csv` /
        :func:`read_detections_csv`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        The name does not end in ``.csv`` or ``.csv.gz``, or ``table`` is not a DataFrame.
    """
    path = Path(path)
    if not _suffix_ok(path):
        raise InputError("a table file name must end in .csv or .csv.gz", path)
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(table).__name__}", path)
    return write_csv(path, table, index=False)


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
    return [write_csv(out / KINEMATICS_FILE, kinematics_table, float_format=float_format),
            write_json(out / SUMMARY_FILE, summary)]
