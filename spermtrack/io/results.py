"""Ground truths and tracking results for scoring, from any layout spermtrack knows.

:func:`read_truth` opens a ground truth (a VISEM-Tracking video folder or root, a MOTChallenge
``gt.txt``, sequence or root, a real-trajectory table or a tracks CSV) as one table per sequence;
:func:`read_results` finds and reads the matching result of every sequence.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError

__all__ = ["is_table_file", "read_result", "read_results", "read_truth", "sequence_stem"]


def is_table_file(path: Path) -> bool:
    """A ``.csv`` or ``.csv.gz`` file."""
    name = path.name.lower()
    return path.is_file() and (name.endswith(".csv") or name.endswith(".csv.gz"))


def sequence_stem(path: Path) -> str:
    """The sequence name a result or table file stands for: its name without ``.csv(.gz)``/``.txt``."""
    name = path.name
    for suffix in (".csv.gz", ".csv", ".txt"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _has_video_file(folder: Path) -> bool:
    from spermtrack.io.video import VIDEO_SUFFIXES

    return any(p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES for p in folder.iterdir())


def _read_visem_truth(folder: Path) -> tuple[pd.DataFrame, int]:
    from spermtrack.io.visem import read_visem_video

    video = read_visem_video(folder, fps=None if _has_video_file(folder) else 1.0, um_per_px=VISEM_UM_PER_PX)
    if not video.has_identities:
        raise InputError("has no labels_ftid/ (only boxes without identities): tracking cannot be scored", folder)
    return video.ground_truth, video.recording.n_frames


def read_truth(path: str | os.PathLike) -> tuple[dict[str, tuple[pd.DataFrame, int | None]], str]:
    """Ground truth per sequence name, with its frame count when known, and the metric it implies.

    Parameters
    ----------
    path : str or PathLike
        A VISEM-Tracking video folder or root (``labels_ftid`` identities), a MOTChallenge ``gt.txt``,
        sequence folder or root, a real-trajectory table (``train_tracks.csv.gz`` layout) or a tracks CSV.

    Returns
    -------
    (dict, str)
        ``{name: (ground truth, n_frames or None)}`` and ``"iou"`` for MOTChallenge data, ``"centre"``
        otherwise.

    Raises
    ------
    InputError
        The path does not exist, a file is malformed (named with the line), or a VISEM folder has no
        identities.
    """
    from spermtrack.io.mot import list_mot_sequences, mot_ground_truth, read_mot, read_seqinfo
    from spermtrack.io.tables import read_tracks_csv
    from spermtrack.io.train_tracks import read_train_tracks
    from spermtrack.io.visem import list_videos

    path = Path(path)
    if not path.exists():
        raise InputError("does not exist", path)
    if path.is_dir():
        mot = list_mot_sequences(path)
        if mot:
            out = {}
            for folder in mot:
                n = int(read_seqinfo(folder).get("seqlength", 0) or 0) or None
                gt_txt = folder / "gt" / "gt.txt"
                out[folder.name] = (mot_ground_truth(read_mot(gt_txt, kind="gt"), gt_txt), n)
            return out, "iou"
        return {p.name: _read_visem_truth(p) for p in list_videos(path)}, "centre"
    if is_table_file(path):
        head = pd.read_csv(path, nrows=0).columns
        if {"video", "cx", "cy"} <= set(head):
            return {v: (gt, rec.n_frames) for v, (rec, gt) in read_train_tracks(path).items()}, "centre"
        return {sequence_stem(path): (read_tracks_csv(path), None)}, "centre"
    gt = mot_ground_truth(read_mot(path, kind="gt"), path)
    folder = path.parent.parent if path.parent.name == "gt" else path.parent
    info = read_seqinfo(folder)
    name = folder.name if path.name.lower() == "gt.txt" else sequence_stem(path)
    return {name: (gt, int(info.get("seqlength", 0) or 0) or None)}, "iou"


def read_result(path: Path) -> pd.DataFrame:
    """One tracking result: a tracks CSV or a MOTChallenge result file."""
    from spermtrack.io.mot import read_mot
    from spermtrack.io.tables import read_tracks_csv

    if is_table_file(path):
        return read_tracks_csv(path)
    return read_mot(path, kind="result")


def _result_files(folder: Path) -> dict[str, Path]:
    """Result files of a folder by sequence name: ``<name>.txt`` / ``<name>.csv`` (TrackEval's layout) or
    ``<name>/tracks_mot.txt`` / ``<name>/tracks.csv`` (what ``spermtrack track`` writes)."""
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and (p.suffix.lower() == ".txt" or is_table_file(p)):
            found.setdefault(sequence_stem(p), p)
        elif p.is_dir():
            for name in ("tracks_mot.txt", "tracks.csv"):
                if (p / name).is_file():
                    found.setdefault(p.name, p / name)
                    break
    return found


def read_results(path: str | os.PathLike, names: list[str]) -> dict[str, pd.DataFrame]:
    """The result of every sequence in ``names``, from one file (one sequence) or a folder.

    Raises
    ------
    InputError
        The path does not exist, one file for several sequences, results for unknown sequences, or
        a sequence without a result.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist", path)
    if path.is_file():
        if len(names) != 1:
            raise InputError(f"is one result file, but the ground truth holds {len(names)} sequences "
                             f"({', '.join(names)}): give a folder with one result per sequence "
                             "(<name>.txt or <name>/tracks_mot.txt)", path)
        return {names[0]: read_result(path)}
    files = _result_files(path)
    if len(names) == 1 and names[0] not in files and len(files) == 1:
        files = {names[0]: next(iter(files.values()))}
    unknown = [n for n in files if n not in names]
    if unknown:
        raise InputError(f"holds results for sequence(s) {', '.join(unknown)} that are not in the ground truth "
                         f"({', '.join(names)})", path)
    missing = [n for n in names if n not in files]
    if missing:
        raise InputError(f"has no result for sequence(s) {', '.join(missing)} (expected <name>.txt, <name>.csv, "
                         "<name>/tracks_mot.txt or <name>/tracks.csv)", path)
    return {n: read_result(files[n]) for n in names}
