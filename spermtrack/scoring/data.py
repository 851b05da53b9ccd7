"""Data sets for the benchmark: VISEM-Tracking roots, MOTChallenge roots and real-trajectory tables.

:func:`open_dataset` turns a path into :class:`BenchmarkData`: the sequences to score, each with its
recording, ground truth and, where they exist, frames, public detections or synthetic truth, plus the
lab's motility values when a semen-analysis CSV is given or found (see :mod:`spermtrack.scoring`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from spermtrack.constants import SEMEN_ANALYSIS_CSV, VISEM_VAL_VIDEOS
from spermtrack.errors import InputError
from spermtrack.io.mot import list_mot_sequences, read_mot_sequence
from spermtrack.io.results import is_table_file
from spermtrack.schema import Recording

__all__ = ["BenchmarkData", "BenchmarkSequence", "open_dataset"]


@dataclass(frozen=True, eq=False)
class BenchmarkSequence:
    """One video (sequence) of a benchmark data set.

    Attributes
    ----------
    name : str
        Video id / sequence name.
    recording : Recording
        Calibration and size (``fps`` drives the trackers and kinematics).
    ground_truth : pandas.DataFrame
        Ground-truth tracks (``frame, x, y, w, h, score, class_id, track_id`` and, for VISEM data,
        ``gt_id``; MOTChallenge adds ``consider``).
    video : VisemVideo or None
        Frames for frame detectors (VISEM layout only).
    public_detections : pandas.DataFrame or None
        MOTChallenge ``det/det.txt``.
    truth_objects : pandas.DataFrame or None
        Synthetic truth, one row per object (true grade and kinematics).
    """

    name: str
    recording: Recording
    ground_truth: pd.DataFrame
    video: Any = None
    public_detections: pd.DataFrame | None = None
    truth_objects: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class BenchmarkData:
    """A data set opened for benchmarking (see :func:`open_dataset`).

    Attributes
    ----------
    kind : {"visem", "mot", "tracks"}
    source : pathlib.Path
    sequences : tuple of BenchmarkSequence
    metric : {"centre", "iou"}
        How boxes pair when scoring (centre distance for sperm, IoU for MOTChallenge).
    clinical : pandas.DataFrame or None
        Lab motility percentages indexed by video id (``progressive``, ``non_progressive``, ``immotile``).
    clinical_path : pathlib.Path or None
    notes : tuple of str
        What was skipped while opening and why.
    """

    kind: str
    source: Path
    sequences: tuple[BenchmarkSequence, ...]
    metric: str
    clinical: pd.DataFrame | None = None
    clinical_path: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def synthetic(self) -> bool:
        """True when every sequence carries synthetic truth."""
        return bool(self.sequences) and all(s.truth_objects is not None for s in self.sequences)

    def describe(self) -> str:
        """One line for reports: kind, source, videos."""
        kind = {"visem": "synthetic VISEM-Tracking twin" if self.synthetic else "VISEM-Tracking layout",
                "mot": "MOTChallenge layout", "tracks": "real trajectory table (ground-truth boxes)"}[self.kind]
        names = ", ".join(s.name for s in self.sequences)
        frames = sum(s.recording.n_frames for s in self.sequences)
        return f"{kind} `{self.source}`: {len(self.sequences)} video(s) ({names}), {frames} frames"


def open_dataset(path: str | os.PathLike, *, videos: Sequence[str | int] | None = None,
                 clinical_csv: str | os.PathLike | None = None,
                 um_per_px: float) -> BenchmarkData:
    """Open a VISEM-Tracking root, a MOTChallenge root or a real-trajectory table for benchmarking.

    Parameters
    ----------
    path : str or PathLike
        The data set (see the module notes for the three kinds).
    videos : sequence of str or int, optional
        Video ids / sequence names to score; default all (VISEM-Tracking: the official validation
        videos 52, 54, 60, 82 that are present, else all).
    clinical_csv : str or PathLike, optional
        A semen-analysis CSV (VISEM format) for the ``lab`` reference; by default
        ``semen_analysis_data_Train.csv`` at a real VISEM root or beside a trajectory table.
    um_per_px : float
        Pixel size (required; VISEM-Tracking: :data:`spermtrack.constants.VISEM_UM_PER_PX`).

    Returns
    -------
    BenchmarkData

    Raises
    ------
    InputError
        The path does not exist or is no known layout, a requested video is absent, or no video
        has ground-truth identities with at least one object.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist", path)
    wanted = None if videos is None else [str(v).strip() for v in videos]
    if is_table_file(path):
        data = _open_tracks_table(path, wanted, um_per_px)
    elif path.is_dir() and list_mot_sequences(path):
        data = _open_mot(path, wanted, um_per_px)
    elif path.is_dir():
        data = _open_visem(path, wanted, um_per_px)
    else:
        raise InputError("is neither a data set folder nor a trajectory table (.csv / .csv.gz)", path)
    clinical, clinical_path = _clinical(data, clinical_csv)
    if not data.sequences:
        raise InputError("holds no video with ground-truth identities and at least one object to score "
                         f"({'; '.join(data.notes) or 'nothing found'})", path)
    return BenchmarkData(data.kind, data.source, data.sequences, data.metric, clinical, clinical_path, data.notes)


def _select(available: list[str], wanted: list[str] | None, where: Path, *, default: Sequence[str] = ()) -> list[str]:
    if wanted is not None:
        absent = [v for v in wanted if v not in available]
        if absent:
            raise InputError(f"has no video(s) {', '.join(absent)}; it holds {', '.join(available) or 'none'}", where)
        return list(dict.fromkeys(wanted))
    preferred = [v for v in default if v in available]
    return preferred or available


def _open_visem(root: Path, wanted: list[str] | None, um_per_px: float) -> BenchmarkData:
    from spermtrack.io.synth_truth import read_synthetic_truth
    from spermtrack.io.visem import list_videos, read_visem_video

    folders = {p.name: p for p in list_videos(root)}
    names = _select(list(folders), wanted, root, default=VISEM_VAL_VIDEOS)
    sequences, notes = [], []
    for name in names:
        video = read_visem_video(folders[name], um_per_px=um_per_px)
        if not video.has_identities:
            notes.append(f"video {name} skipped: it has no labels_ftid identities ({video.label_source} only), "
                         "so tracking cannot be scored")
            continue
        if not len(video.ground_truth):
            notes.append(f"video {name} skipped: its ground truth has no object (nothing to score)")
            continue
        truth = read_synthetic_truth(folders[name])
        sequences.append(BenchmarkSequence(name, video.recording, video.ground_truth, video=video,
                                           truth_objects=None if truth is None else truth[1]))
    return BenchmarkData("visem", root, tuple(sequences), "centre", notes=tuple(notes))


def _open_tracks_table(path: Path, wanted: list[str] | None, um_per_px: float) -> BenchmarkData:
    from spermtrack.io.train_tracks import read_train_tracks

    table = read_train_tracks(path, videos=wanted, um_per_px=um_per_px)
    sequences = tuple(BenchmarkSequence(vid, rec, gt) for vid, (rec, gt) in table.items() if len(gt))
    return BenchmarkData("tracks", path, sequences, "centre")


def _open_mot(root: Path, wanted: list[str] | None, um_per_px: float) -> BenchmarkData:
    folders = {p.name: p for p in list_mot_sequences(root)}
    names = _select(list(folders), wanted, root)
    sequences, notes = [], []
    for name in names:
        gt, dets, rec, seq_notes = read_mot_sequence(folders[name], um_per_px=um_per_px)
        if not len(gt):
            notes.append(f"sequence {name} skipped: its ground truth has no object (nothing to score)")
            continue
        notes += seq_notes
        sequences.append(BenchmarkSequence(name, rec, gt, public_detections=dets))
    return BenchmarkData("mot", root, tuple(sequences), "iou", notes=tuple(notes))


def _clinical(data: BenchmarkData, clinical_csv: str | os.PathLike | None) -> tuple[pd.DataFrame | None, Path | None]:
    from spermtrack.io.clinical import motility_columns, read_clinical_csv

    if clinical_csv is not None:
        path = Path(clinical_csv)
    elif data.kind == "visem" and not data.synthetic:
        path = data.source / SEMEN_ANALYSIS_CSV
    elif data.kind == "tracks":
        path = data.source.parent / SEMEN_ANALYSIS_CSV
    else:
        return None, None
    if clinical_csv is None and not path.is_file():
        return None, None
    return motility_columns(read_clinical_csv(path)), path
