"""MOTChallenge text files: detections, ground truth and tracker results.

On disk (MOTChallenge), one box per line, comma separated, frames 1-based and ``x, y`` the box's
TOP-LEFT corner::

    det     frame,-1,x,y,w,h,conf,-1,-1,-1
    result  frame,id,x,y,w,h,conf,x3d,y3d,z3d          (x3d.. are -1 in 2-D challenges)
    gt      frame,id,x,y,w,h,consider,class,visibility  (MOT16/17/20; MOT15 gt has the 10-field result form)

In memory (the data contract), frames are 0-based and ``x, y`` the box CENTRE. This module is the
only place where the MOTChallenge conventions exist.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.io.atomic import atomic_path
from spermtrack.schema import validate_detections, validate_tracks

__all__ = ["MOT_DISTRACTOR_CLASSES", "MOT_PEDESTRIAN", "format_mot", "list_mot_sequences", "mot_ground_truth",
           "parse_mot_text", "read_mot", "read_mot_sequence", "read_seqinfo", "write_mot"]

_KINDS = ("auto", "det", "gt", "result")
_SPLIT = re.compile(r"[,\s]+")


def parse_mot_text(text: str, *, path: str | os.PathLike = "<text>") -> tuple[np.ndarray, np.ndarray]:
    """Parse MOTChallenge lines into an ``(n, 10)`` float array, missing trailing fields as NaN.

    Blank lines are skipped. Fields may be separated by commas and/or white space.

    Returns
    -------
    data : numpy.ndarray
        ``(n, 10)`` float64, the fields as written (1-based frames, top-left corners).
    line : numpy.ndarray
        ``(n,)`` int, the 1-based line of each row.

    Raises
    ------
    InputError
        A line has fewer than 6 or more than 10 fields, or a non-numeric or non-finite value; the
        message names ``path`` and the 1-based line.
    """
    rows: list[list[str]] = []
    lines: list[int] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip().strip(",")
        if not stripped:
            continue
        parts = _SPLIT.split(stripped)
        if not 6 <= len(parts) <= 10:
            raise InputError(f"expected 6 to 10 comma-separated fields (frame,id,x,y,w,h,...), got {len(parts)}",
                             path, number)
        rows.append(parts + ["nan"] * (10 - len(parts)))
        lines.append(number)
    if not rows:
        return np.zeros((0, 10)), np.zeros(0, dtype=np.int64)
    try:
        data = np.array(rows, dtype=np.float64)
    except ValueError:
        for parts, number in zip(rows, lines):
            for token in parts:
                try:
                    float(token)
                except ValueError:
                    raise InputError(f"{token!r} is not a number", path, number) from None
        raise InputError("a value is not a number", path) from None  # pragma: no cover
    line_of = np.asarray(lines, dtype=np.int64)
    bad = ~np.isfinite(data[:, :6]).all(axis=1)
    if bad.any():
        raise InputError("frame, id, x, y, w and h must be finite numbers", path, int(line_of[bad][0]))
    return data, line_of


def read_mot(path: str | os.PathLike, *, kind: str = "auto") -> pd.DataFrame:
    """Read a MOTChallenge detection, ground-truth or result file into a contract table.

    Parameters
    ----------
    path : str or PathLike
        The text file.
    kind : {'auto', 'det', 'gt', 'result'}
        ``'det'``: the id column is ignored and a detections table is returned. ``'gt'``: a tracks
        table with the extra columns ``consider`` (field 7), ``mot_class`` (field 8) and
        ``visibility`` (field 9; -1 when the line has no such field). A 10-field ground truth is
        MOT15's form, whose fields 8-10 are world coordinates: ``mot_class`` and ``visibility`` are
        then -1 (unknown), so every row counts. ``'result'``: a tracks table.
        ``'auto'``: ``'det'`` when every id is -1; else ``'gt'`` when the file is named ``gt.txt``
        or its lines have 9 fields; else ``'result'``.

    Returns
    -------
    pandas.DataFrame
        Rows in file order. ``frame`` (int, 0-based: file frame - 1), ``x``, ``y`` (box CENTRE:
        left + w/2, top + h/2), ``w``, ``h``, ``score``, ``class_id`` (0), plus ``track_id`` (int,
        the file's id) for 'gt'/'result', and ``conf`` (the raw field 7) for 'det'/'result'.

        Scores: MOTChallenge detection confidences are not probabilities (DPM scores are
        negative or above 1, results often write -1 or 1). The raw value is kept in ``conf`` for
        ranking; ``score`` is ``conf`` clipped to [0, 1] (unchanged when it already lies there),
        as the contract requires. Ground truth gets ``score`` 1.0.

    Raises
    ------
    InputError
        The file is missing or a line is malformed (named ``file:line``): wrong field count,
        non-numeric value, frame < 1, negative size, a negative id in a gt/result file, or the same
        id twice in one frame.
    """
    if kind not in _KINDS:
        raise InputError(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    path = Path(path)
    if not path.is_file():
        raise InputError("does not exist" if not path.exists() else "is not a file", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("is not a UTF-8 text file", path) from None
    data, line_of = parse_mot_text(text, path=path)
    return _to_table(data, line_of, kind=kind, path=path, n_fields=_field_count(text))


def _field_count(text: str) -> int:
    for line in text.splitlines():
        stripped = line.strip().strip(",")
        if stripped:
            return len(_SPLIT.split(stripped))
    return 0


def _to_table(data: np.ndarray, line_of: np.ndarray, *, kind: str, path: Path, n_fields: int) -> pd.DataFrame:
    frame, ids = data[:, 0], data[:, 1]
    if kind == "auto":
        if len(data) == 0 or (ids == -1).all():
            kind = "det"
        elif path.name.lower() == "gt.txt" or n_fields == 9:
            kind = "gt"
        else:
            kind = "result"
    checks = [
        ((frame < 1) | (frame != np.round(frame)), "frame must be an integer >= 1 (MOTChallenge frames are 1-based)"),
        ((data[:, 4] < 0) | (data[:, 5] < 0), "w and h must be >= 0"),
    ]
    if kind != "det":
        checks.append(((ids < 0) | (ids != np.round(ids)), f"id must be an integer >= 0 in a {kind} file"))
    for bad, what in checks:
        if bad.any():
            raise InputError(what, path, int(line_of[bad][0]))

    w, h = data[:, 4], data[:, 5]
    table = {
        "frame": frame.astype(np.int64) - 1,
        "x": data[:, 2] + w / 2.0,
        "y": data[:, 3] + h / 2.0,
        "w": w,
        "h": h,
    }
    conf = data[:, 6]
    if kind == "gt":
        table["score"] = np.ones(len(data))
    else:
        conf = np.where(np.isnan(conf), 1.0, conf)
        table["score"] = np.clip(conf, 0.0, 1.0)
    table["class_id"] = np.zeros(len(data), dtype=np.int64)
    if kind == "det":
        table["conf"] = conf
        return validate_detections(pd.DataFrame(table), name=str(path))
    table["track_id"] = ids.astype(np.int64)
    if kind == "gt":
        table["consider"] = np.where(np.isnan(data[:, 6]), 1, data[:, 6]).astype(np.int64)
        if n_fields >= 10:  # MOT15: fields 8-10 are world coordinates, there is no class or visibility
            table["mot_class"] = np.full(len(data), -1, dtype=np.int64)
            table["visibility"] = np.full(len(data), -1.0)
        else:
            table["mot_class"] = np.where(np.isnan(data[:, 7]), -1, data[:, 7]).astype(np.int64)
            table["visibility"] = np.where(np.isnan(data[:, 8]), -1.0, data[:, 8])
    else:
        table["conf"] = conf
    out = pd.DataFrame(table)
    dup = out.duplicated(["frame", "track_id"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(f"id {int(ids[row])} occurs twice in frame {int(frame[row])}", path, int(line_of[row]))
    return validate_tracks(out, name=str(path))


def _fmt(values: np.ndarray) -> list[str]:
    """Shortest text that reads back as the same float64 (Python's repr), integers without '.0'."""
    out = []
    for v in np.asarray(values, dtype=np.float64).tolist():
        out.append(str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v))
    return out


def _validated(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` checked as a tracks table when it has ``track_id``, else as a detections table."""
    return validate_tracks(table) if "track_id" in table.columns else validate_detections(table)


def format_mot(table: pd.DataFrame) -> str:
    """Format a contract table as MOTChallenge text; see :func:`write_mot`."""
    return _mot_lines(_validated(table))


def _mot_lines(table: pd.DataFrame) -> str:
    """MOTChallenge text of a table already checked by :func:`_validated`."""
    if "track_id" in table.columns:
        ids = [str(int(i)) for i in table["track_id"].to_numpy()]
    else:
        ids = ["-1"] * len(table)
    frame = [str(int(f) + 1) for f in table["frame"].to_numpy()]
    w, h = table["w"].to_numpy(), table["h"].to_numpy()
    left = _fmt(table["x"].to_numpy() - w / 2.0)
    top = _fmt(table["y"].to_numpy() - h / 2.0)
    ws, hs = _fmt(w), _fmt(h)
    gt_style = "track_id" in table.columns and all(c in table.columns for c in ("consider", "mot_class", "visibility"))
    if gt_style:
        tail = [f"{a},{b},{c}" for a, b, c in zip(_fmt(table["consider"]), _fmt(table["mot_class"]),
                                                    _fmt(table["visibility"]))]
    else:
        conf = table["conf"] if "conf" in table.columns else table["score"]
        tail = [f"{c},-1,-1,-1" for c in _fmt(conf)]
    lines = [",".join(fields) for fields in zip(frame, ids, left, top, ws, hs, tail)]
    return "".join(line + "\n" for line in lines)


def write_mot(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a contract table as a MOTChallenge text file, atomically.

    Lines are ``frame+1, id, left, top, w, h, conf, -1, -1, -1`` with ``left = x - w/2`` and
    ``top = y - h/2``; ``id`` is ``track_id`` for a tracks table and -1 for a detections table; ``conf``
    is the ``conf`` column when present (the raw value :func:`read_mot` keeps), else ``score``. A tracks
    table that carries ``consider``, ``mot_class`` and ``visibility`` is written in the 9-field gt form
    ``frame, id, left, top, w, h, consider, class, visibility``. Numbers are written with Python's
    shortest round-trip repr, so reading the file back gives the same floats (``x, y`` up to one
    rounding of the centre/corner conversion, ~1e-13 px).

    Parameters
    ----------
    path : str or PathLike
        Target text file.
    table : pandas.DataFrame
        A detections or tracks table (0-based frames, centre x, y).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        The table fails contract validation.
    """
    table = _validated(table)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for start in range(0, len(table), _WRITE_CHUNK):  # chunks: memory does not grow with the video
            fh.write(_mot_lines(table.iloc[start:start + _WRITE_CHUNK]))
    return Path(path)


#: Rows formatted at a time by :func:`write_mot`.
_WRITE_CHUNK = 20000


# ----------------------------------------------------------------------------------------------- sequences
#: MOTChallenge class of pedestrians, and the MOT16/17 classes scored as "don't care" (TrackEval's distractors).
MOT_PEDESTRIAN = 1
MOT_DISTRACTOR_CLASSES: tuple[int, ...] = (2, 7, 8, 12)


def list_mot_sequences(root: str | os.PathLike) -> list[Path]:
    """Sequence folders of a MOTChallenge root (``<seq>/gt/gt.txt``), ``[root]`` for one sequence, or []."""
    root = Path(root)
    if (root / "gt" / "gt.txt").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "gt" / "gt.txt").is_file())


def read_seqinfo(folder: str | os.PathLike) -> dict[str, str]:
    """The ``[Sequence]`` section of ``<folder>/seqinfo.ini`` with lower-case keys ({} when absent).

    Raises
    ------
    InputError
        The file exists but cannot be parsed.
    """
    import configparser

    ini = Path(folder) / "seqinfo.ini"
    if not ini.is_file():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as exc:
        raise InputError(f"cannot be parsed: {exc}", ini) from None
    return {k.lower(): v for k, v in parser["Sequence"].items()} if parser.has_section("Sequence") else {}


def mot_ground_truth(gt: pd.DataFrame, path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a MOTChallenge ground truth that count: pedestrians, and distractors as ``consider = 0``.

    MOT16/17 distractor classes (2, 7, 8, 12) become "don't care" rows, other non-pedestrian classes
    are dropped, and rows without a class (MOT15, ``mot_class == -1``) are kept.

    Raises
    ------
    InputError
        Every row has a class other than pedestrian or distractor (nothing would be scored).
    """
    cls = gt["mot_class"].to_numpy()
    distractor = np.isin(cls, MOT_DISTRACTOR_CLASSES)
    keep = (cls == -1) | (cls == MOT_PEDESTRIAN) | distractor
    if len(gt) and not keep.any():
        raise InputError(f"none of its {len(gt)} rows is a pedestrian (class {MOT_PEDESTRIAN}) or a distractor "
                         f"class: field 8 holds classes {sorted(set(cls.tolist()))[:5]}; is this a MOTChallenge "
                         "gt.txt?", path)
    out = gt[keep].copy()
    out["consider"] = np.where(distractor[keep], 0, out["consider"].to_numpy())
    return out.reset_index(drop=True)


def read_mot_sequence(folder: str | os.PathLike, *, um_per_px: float):
    """Read one MOTChallenge sequence folder: scored ground truth, public detections and recording.

    Parameters
    ----------
    folder : str or PathLike
        ``<seq>/`` with ``gt/gt.txt``, optionally ``det/det.txt`` and ``seqinfo.ini``.
    um_per_px : float
        Pixel size given to the recording (pedestrian data has none; it only feeds kinematics).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame or None, Recording, list of str)
        Ground truth (:func:`mot_ground_truth`), detections or None, the recording (fps, size and
        length from ``seqinfo.ini``, else from the boxes) and notes (e.g. an assumed frame rate).
    """
    from spermtrack.schema import Recording

    folder = Path(folder)
    gt_txt = folder / "gt" / "gt.txt"
    gt = mot_ground_truth(read_mot(gt_txt, kind="gt"), gt_txt)
    det_path = folder / "det" / "det.txt"
    dets = read_mot(det_path, kind="det") if det_path.is_file() else None
    info = read_seqinfo(folder)
    notes = []
    last = int(max(gt["frame"].max() if len(gt) else -1,
                   -1 if dets is None or not len(dets) else dets["frame"].max())) + 1
    fps = float(info.get("framerate", 0) or 0)
    if fps <= 0:
        fps = 25.0
        notes.append(f"sequence {folder.name}: no frameRate in seqinfo.ini, 25 fps assumed")
    width = int(info.get("imwidth", 0) or 0) or (int(np.ceil((gt["x"] + gt["w"] / 2).max())) if len(gt) else 1)
    height = int(info.get("imheight", 0) or 0) or (int(np.ceil((gt["y"] + gt["h"] / 2).max())) if len(gt) else 1)
    n_frames = int(info.get("seqlength", 0) or 0) or last
    rec = Recording(fps=fps, um_per_px=um_per_px, width=max(width, 1), height=max(height, 1),
                    n_frames=max(n_frames, last, 1), source=str(folder))
    return gt, dets, rec, notes
