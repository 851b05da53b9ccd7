"""The benchmark runner: every detector x every tracker on every video, one leaderboard.

:func:`run_benchmark` runs the grid and writes, atomically, into ``out_dir``:

``leaderboard.csv``
    One row per video and detector x tracker, plus an ``OVERALL`` row per detector x tracker:
    :data:`LEADERBOARD_COLUMNS`. Ratios (HOTA, DetA, AssA, LocA, MOTA, IDF1, IDP, IDR) are in percent,
    like the published anchors; counts are counts; ``MOTP`` is the mean centre distance of matches in px
    (``1 - IoU`` on MOTChallenge data). ``OVERALL`` pools the videos (summed counts, TrackEval's HOTA
    combination), it is not a mean of the rows (:func:`spermtrack.eval.mot.evaluate_sequences`).
    ``tracker_fps = frames / seconds spent in the tracker alone`` (detection excluded; the
    detections of one video and detector are computed once and reused by every tracker).
``kinematics_error.csv``
    Per video and ``OVERALL`` (pairs pooled): how close the CASA kinematics of the predicted tracks are
    to the reference (:mod:`spermtrack.eval.kinematic`): matched %, median absolute / signed
    percentage errors of VCL, VSL, VAP, net progression, ALH, BCF, median errors of LIN, STR, WOB and
    the WHO grade accuracy of matched pairs.
``grade_error.csv``
    Per video: predicted vs reference progressive / non-progressive / immotile %; per reference and
    category an ``OVERALL`` row with n, MAE, RMSE, Pearson r, Bland-Altman bias, sd and 95 % limits
    (:mod:`spermtrack.eval.agreement`).
``leaderboard.md``
    The ``OVERALL`` rows sorted by HOTA, HOTA per video, the kinematic and grade summaries, the
    published VISEM-Tracking anchors for context, and notes (what was skipped and why).
``leaderboard.png``, ``bland_altman.png``
    HOTA / MOTA / IDF1 and tracker speed per detector x tracker; the Bland-Altman plot of the
    best combination (highest overall HOTA) against the first reference.
``benchmark.json``
    Provenance: command, versions, data set, videos, detectors and trackers with their settings,
    noise, gate, kinematics preset, notes, files.

Data sets (:func:`open_dataset`)
--------------------------------
VISEM-Tracking layout (a root of video folders, real or written by ``spermtrack synth``)
    Scored on ``labels_ftid`` identities with the centre gate (default 10 px). A root that holds any of
    the official validation videos 52, 54, 60, 82 is scored on those by default, otherwise on all its
    videos. A synthetic video (``<id>_truth.csv.gz`` + ``<id>_objects.csv``) is compared with its exact
    truth: true kinematics and true grades (reference ``truth``). A real video is compared with the
    kinematics and grades of its ground-truth tracks under the same kinematics preset (reference
    ``gt_tracks``) and, when a semen-analysis CSV is given or found at the root
    (``semen_analysis_data_Train.csv``), with the lab's percentages (reference ``lab``).
MOTChallenge layout (``<seq>/gt/gt.txt``, ``<seq>/det/det.txt``, ``<seq>/seqinfo.ini``)
    Scored with IoU >= 0.5; trackers run on the public detections (detector ``public``) and, when asked
    for, on the ground-truth boxes (``gt``); frame detectors are replaced by ``public``. Ground-truth rows
    of MOT16/17 distractor classes (2, 7, 8, 12) become "don't care" rows (``consider = 0``), other
    non-pedestrian classes are dropped. No kinematics.
A real-trajectory table (``.csv``/``.csv.gz`` like ``train_tracks.csv.gz``: ``video, frame, track_id,
class_id, cx, cy, w, h``)
    Only ``gt`` detections (optionally noisy), so trackers and grading meet real sperm motion. Reference
    ``gt_tracks`` and, with ``clinical_csv`` (or a ``semen_analysis_data_Train.csv`` beside the table),
    ``lab``.

Trackers
--------
``spermtrack`` is spermtrack's tracker with its default ``sperm`` preset, ``sort`` its classic SORT
preset, ``spermtrack:<preset>`` any other preset; ``bytetrack``, ``ocsort``, ``botsort``, ``sort-rf``,
``ul-bytetrack``, ``ul-botsort`` and ``trackpy`` are the peers of :mod:`spermtrack.tracker.peers`
(a peer whose package is missing is skipped with a note). A tracker that raises on some video is
dropped from the whole leaderboard with a note, so ``OVERALL`` rows always cover the same videos.

Documented behaviour for awkward input: a video without identities (``labels/`` only) or without any
ground-truth object is skipped with a note (it cannot score a tracker; it would make MOTA undefined);
no scorable video at all is an :class:`~spermtrack.errors.InputError`. Predicted rows in frames outside
the video are an error (:func:`~spermtrack.eval.mot.evaluate_sequences` with ``n_frames``).
"""

from __future__ import annotations

import configparser
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.io.visem import DEFAULT_UM_PER_PX
from spermtrack.schema import Recording

__all__ = [
    "ANCHORS", "BenchmarkData", "BenchmarkSequence", "DETECTORS", "LEADERBOARD_COLUMNS", "PERCENT_METRICS",
    "TRACKER_ALIASES", "VISEM_VAL_VIDEOS", "evaluate_pair", "leaderboard_markdown", "open_dataset",
    "plot_leaderboard", "resolve_tracker", "run_benchmark",
]

#: Official VISEM-Tracking validation videos (simulamet-host/visem-tracking).
VISEM_VAL_VIDEOS: tuple[str, ...] = ("52", "54", "60", "82")
#: Detector names: ``gt`` (ground-truth boxes, optionally noisy), ``blob``, ``yolo`` (frame detectors),
#: ``public`` (a MOTChallenge sequence's ``det/det.txt``).
DETECTORS: tuple[str, ...] = ("gt", "blob", "yolo", "public")
#: Tracker names that map to spermtrack presets.
TRACKER_ALIASES: dict[str, str] = {"spermtrack": "sperm", "sort": "sort"}
#: Ratio metrics reported in percent.
PERCENT_METRICS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr", "MOTA",
                                    "MODA", "IDF1", "IDP", "IDR", "precision", "recall")
#: Columns of ``leaderboard.csv``, in order.
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "video", "detector", "tracker", "HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDSW",
    "FP", "FN", "TP", "MT", "PT", "ML", "FRAG", "num_gt", "num_pred", "num_gt_ids", "num_pred_ids", "n_frames",
    "tracker_s", "tracker_fps", "detector_fps")
#: Published results on real VISEM-Tracking, shown for context in ``leaderboard.md``.
ANCHORS: dict[str, dict[str, Any]] = {
    "HOTA": {"value": 74.3, "method": "YOLOv8 variant + DeepOCSORT variant", "source": "Sensors 2024, 24(11):3493"},
    "MOTA": {"value": 71.2, "method": "YOLOv8 variant + DeepOCSORT variant", "source": "Sensors 2024, 24(11):3493"},
    "IDF1": {"value": 84.8, "method": "EKF-BoT-SORT (BoT-SORT 80.3)", "source": "Sensors 2025, 25(24):7539"},
}
_SEMEN_CSV = "semen_analysis_data_Train.csv"
_MOT_DISTRACTOR_CLASSES = (2, 7, 8, 12)
_MOT_PEDESTRIAN = 1
_REFERENCE_ORDER = ("truth", "lab", "gt_tracks")
_REFERENCE_LABELS = {"truth": "synthetic truth", "lab": "lab (semen analysis CSV)",
                     "gt_tracks": "ground-truth tracks"}
_SLIM = ("frame", "track_id", "x", "y", "w", "h")


# ======================================================================================================================
# Data sets
# ======================================================================================================================
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


def _is_table_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and (name.endswith(".csv") or name.endswith(".csv.gz"))


def _mot_sequences(root: Path) -> list[Path]:
    """Sequence folders of a MOTChallenge root (``<seq>/gt/gt.txt``), or ``[root]`` for one sequence."""
    if (root / "gt" / "gt.txt").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "gt" / "gt.txt").is_file())


def open_dataset(path: str | os.PathLike, *, videos: Sequence[str | int] | None = None,
                 clinical_csv: str | os.PathLike | None = None,
                 um_per_px: float = DEFAULT_UM_PER_PX) -> BenchmarkData:
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
        Pixel size (VISEM-Tracking community value 0.351).

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
    if _is_table_file(path):
        data = _open_tracks_table(path, wanted, um_per_px)
    elif path.is_dir() and _mot_sequences(path):
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
    from spermtrack.io.visem import list_videos, read_synthetic_truth, read_visem_video

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
    from spermtrack.io.visem import read_train_tracks

    table = read_train_tracks(path, videos=wanted, um_per_px=um_per_px)
    sequences = tuple(BenchmarkSequence(vid, rec, gt) for vid, (rec, gt) in table.items() if len(gt))
    return BenchmarkData("tracks", path, sequences, "centre")


def _seqinfo(folder: Path) -> dict[str, str]:
    ini = folder / "seqinfo.ini"
    if not ini.is_file():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as exc:
        raise InputError(f"cannot be parsed: {exc}", ini) from None
    return {k.lower(): v for k, v in parser["Sequence"].items()} if parser.has_section("Sequence") else {}


def _mot_ground_truth(gt: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Pedestrians kept, MOT16/17 distractor classes as ``consider = 0``, other classes dropped.

    Raises
    ------
    InputError
        Every row has a class other than pedestrian or distractor (nothing would be scored).
    """
    cls = gt["mot_class"].to_numpy()
    distractor = np.isin(cls, _MOT_DISTRACTOR_CLASSES)
    keep = (cls == -1) | (cls == _MOT_PEDESTRIAN) | distractor
    if len(gt) and not keep.any():
        raise InputError(f"none of its {len(gt)} rows is a pedestrian (class {_MOT_PEDESTRIAN}) or a distractor "
                         f"class: field 8 holds classes {sorted(set(cls.tolist()))[:5]}; is this a MOTChallenge "
                         "gt.txt?", path)
    out = gt[keep].copy()
    out["consider"] = np.where(distractor[keep], 0, out["consider"].to_numpy())
    return out.reset_index(drop=True)


def _open_mot(root: Path, wanted: list[str] | None, um_per_px: float) -> BenchmarkData:
    from spermtrack.io.mot import read_mot

    folders = {p.name: p for p in _mot_sequences(root)}
    names = _select(list(folders), wanted, root)
    sequences, notes = [], []
    for name in names:
        folder = folders[name]
        gt = _mot_ground_truth(read_mot(folder / "gt" / "gt.txt", kind="gt"), folder / "gt" / "gt.txt")
        if not len(gt):
            notes.append(f"sequence {name} skipped: its ground truth has no object (nothing to score)")
            continue
        det_path = folder / "det" / "det.txt"
        dets = read_mot(det_path, kind="det") if det_path.is_file() else None
        info = _seqinfo(folder)
        last = int(max(gt["frame"].max(), -1 if dets is None or not len(dets) else dets["frame"].max())) + 1
        fps = float(info.get("framerate", 0) or 0)
        if fps <= 0:
            fps = 25.0
            notes.append(f"sequence {name}: no frameRate in seqinfo.ini, 25 fps assumed")
        width = int(info.get("imwidth", 0) or 0) or int(math.ceil((gt["x"] + gt["w"] / 2).max()))
        height = int(info.get("imheight", 0) or 0) or int(math.ceil((gt["y"] + gt["h"] / 2).max()))
        n_frames = int(info.get("seqlength", 0) or 0) or last
        rec = Recording(fps=fps, um_per_px=um_per_px, width=max(width, 1), height=max(height, 1),
                        n_frames=max(n_frames, last), source=str(folder))
        sequences.append(BenchmarkSequence(name, rec, gt, public_detections=dets))
    return BenchmarkData("mot", root, tuple(sequences), "iou", notes=tuple(notes))


def _clinical(data: BenchmarkData, clinical_csv: str | os.PathLike | None) -> tuple[pd.DataFrame | None, Path | None]:
    from spermtrack.io.clinical import motility_columns, read_clinical_csv

    if clinical_csv is not None:
        path = Path(clinical_csv)
    elif data.kind == "visem" and not data.synthetic:
        path = data.source / _SEMEN_CSV
    elif data.kind == "tracks":
        path = data.source.parent / _SEMEN_CSV
    else:
        return None, None
    if clinical_csv is None and not path.is_file():
        return None, None
    return motility_columns(read_clinical_csv(path)), path


# ======================================================================================================================
# Detectors and trackers
# ======================================================================================================================
def _names(value: str | Iterable[str], what: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [str(v).strip() for v in items if str(v).strip()]
    if not out:
        raise InputError(f"give at least one {what}")
    return list(dict.fromkeys(out))


def resolve_tracker(name: str) -> tuple[str, str]:
    """Map a benchmark tracker name to ``("preset", preset)`` or ``("peer", peer)``.

    ``spermtrack`` -> preset ``sperm``; ``sort`` -> preset ``sort``; ``spermtrack:<preset>`` -> that
    preset; a name of :data:`spermtrack.tracker.peers.PEER_PACKAGES` -> that peer.

    Raises
    ------
    InputError
        An unknown name (the message lists the choices).
    """
    from spermtrack.tracker import PRESETS
    from spermtrack.tracker.peers import PEER_PACKAGES

    if name in TRACKER_ALIASES:
        return "preset", TRACKER_ALIASES[name]
    if name.startswith("spermtrack:") and name.split(":", 1)[1] in PRESETS:
        return "preset", name.split(":", 1)[1]
    if name in PEER_PACKAGES:
        return "peer", name
    choices = list(TRACKER_ALIASES) + [f"spermtrack:{p}" for p in PRESETS] + list(PEER_PACKAGES)
    raise InputError(f"unknown tracker {name!r}; choose from {', '.join(choices)}")


def _plan_detectors(kind: str, requested: list[str], notes: list[str]) -> list[str]:
    unknown = [d for d in requested if d not in DETECTORS]
    if unknown:
        raise InputError(f"unknown detector(s) {', '.join(unknown)}; choose from {', '.join(DETECTORS)}")
    if kind == "mot":
        frame = [d for d in requested if d in ("blob", "yolo")]
        if frame:
            notes.append(f"detector(s) {', '.join(frame)} replaced by 'public': MOTChallenge sequences are scored "
                         "on their public detections (det/det.txt)")
        out = [d for d in requested if d in ("gt", "public")]
        return out + (["public"] if frame and "public" not in out else [])
    other = [d for d in requested if d != "gt" and (kind == "tracks" or d == "public")]
    for d in other:
        why = ("a trajectory table has no frames: only 'gt' detections (optionally noisy) run on it"
               if kind == "tracks" else "public detections exist only in MOTChallenge layouts")
        notes.append(f"detector {d} skipped: {why}")
    return [d for d in requested if d not in other]


def _frame_detectors(names: list[str], notes: list[str]) -> dict[str, Any]:
    from spermtrack.detectors import get_detector

    built = {}
    for name in names:
        if name not in ("blob", "yolo"):
            continue
        try:
            built[name] = get_detector(name)
        except (InputError, ImportError, OSError) as exc:
            notes.append(f"detector {name} skipped: {exc}")
    return built


def _plan_trackers(requested: list[str], notes: list[str]) -> dict[str, tuple[str, str]]:
    from spermtrack.tracker.peers import PEER_PACKAGES, available_peers

    installed = available_peers()
    plan = {}
    for name in requested:
        kind, target = resolve_tracker(name)
        if kind == "peer" and not installed[target]:
            notes.append(f"tracker {name} skipped: its package {PEER_PACKAGES[target]!r} is not installed "
                         f"(pip install {PEER_PACKAGES[target]})")
            continue
        plan[name] = (kind, target)
    return plan


def _detect(seq: BenchmarkSequence, name: str, noise: Any, frame_detectors: Mapping[str, Any]) -> pd.DataFrame | None:
    from spermtrack.detectors import gt_detections

    rec = seq.recording
    if name == "gt":
        gt = seq.ground_truth
        if "consider" in gt.columns:
            gt = gt[gt["consider"].to_numpy() != 0]
        return gt_detections(gt, noise, width=rec.width, height=rec.height, n_frames=rec.n_frames)
    if name == "public":
        return seq.public_detections
    if seq.video is None:
        return None
    return frame_detectors[name].detect_video(seq.video.iter_frames(), total=rec.n_frames)


def _run_tracker(dets: pd.DataFrame, spec: tuple[str, str], rec: Recording) -> pd.DataFrame:
    from spermtrack.tracker import track
    from spermtrack.tracker.peers import track_peer

    kind, target = spec
    if kind == "preset":
        return track(dets, target, fps=rec.fps, um_per_px=rec.um_per_px)
    return track_peer(dets, target, fps=rec.fps)


def _tracker_settings(plan: Mapping[str, tuple[str, str]]) -> dict[str, dict]:
    from spermtrack.tracker import get_config

    out = {}
    for name, (kind, target) in plan.items():
        if kind == "preset":
            out[name] = {"preset": target, "config_at_50fps_0.351um": get_config(target).to_dict()}
        else:
            out[name] = {"peer": target}
    return out


# ======================================================================================================================
# References for kinematics and grades
# ======================================================================================================================
@dataclass(frozen=True, eq=False)
class _Reference:
    """Reference kinematics (per true track) and percentages (per reference kind) of one video."""

    kinematics: pd.DataFrame | None
    kinematics_kind: str | None
    percent: dict[str, dict[str, float]]


def _truth_percentages(objects: pd.DataFrame) -> dict[str, float]:
    sperm = objects[objects["class_id"].to_numpy() == 0]
    grades = sperm["grade"].astype(str).to_numpy()
    n = len(grades)
    pct = {g: (100.0 * float(np.sum(grades == g)) / n if n else math.nan) for g in "abcd"}
    return {"progressive": pct["a"] + pct["b"], "non_progressive": pct["c"], "immotile": pct["d"]}


def _percent(result_table: pd.DataFrame) -> dict[str, float]:
    from spermtrack.kinematics import motility_percentages

    pct = motility_percentages(result_table)["percent"]
    return {c: math.nan if pct[c] is None else float(pct[c]) for c in ("progressive", "non_progressive", "immotile")}


def _reference(seq: BenchmarkSequence, data: BenchmarkData, config: Any, notes: list[str]) -> _Reference:
    from spermtrack.eval.kinematic import truth_reference
    from spermtrack.kinematics import analyze_tracks

    percent: dict[str, dict[str, float]] = {}
    if seq.truth_objects is not None:
        kin = truth_reference(seq.truth_objects, seq.ground_truth, alh_factor=config.alh_factor)
        kind = "truth"
        percent["truth"] = _truth_percentages(seq.truth_objects)
    else:
        gt = seq.ground_truth
        rec = seq.recording
        kin = analyze_tracks(gt[gt["class_id"].to_numpy() == 0], rec.um_per_px, rec.fps, config,
                             name=f"ground truth of video {seq.name}").table
        kind = "gt_tracks"
        percent["gt_tracks"] = _percent(kin)
    if data.clinical is not None:
        if seq.name in data.clinical.index:
            row = data.clinical.loc[seq.name]
            percent["lab"] = {c: float(row[c]) for c in ("progressive", "non_progressive", "immotile")}
        else:
            notes.append(f"video {seq.name}: no row in {data.clinical_path} (lab reference missing)")
            percent["lab"] = dict.fromkeys(("progressive", "non_progressive", "immotile"), math.nan)
    return _Reference(kin, kind, percent)


# ======================================================================================================================
# The grid
# ======================================================================================================================
@dataclass
class _Run:
    """Results of one detector x tracker over the videos."""

    detector: str
    tracker: str
    tracks: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    detector_fps: dict[str, float] = field(default_factory=dict)
    errors: dict[str, pd.DataFrame] = field(default_factory=dict)
    percent: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: str | None = None


def run_benchmark(
    dataset: str | os.PathLike | BenchmarkData,
    *,
    detectors: str | Sequence[str],
    trackers: str | Sequence[str],
    out_dir: str | os.PathLike,
    videos: Sequence[str | int] | None = None,
    det_noise: str | None = None,
    clinical_csv: str | os.PathLike | None = None,
    gate: float = 10.0,
    progress: bool = True,
    kinematics: str = "who2021",
    um_per_px: float = DEFAULT_UM_PER_PX,
    min_overlap: float = 0.5,
) -> pd.DataFrame:
    """Run every detector x tracker on every video, score them and write the leaderboard.

    Parameters
    ----------
    dataset : str, PathLike or BenchmarkData
        A VISEM-Tracking root (real or synthetic), a MOTChallenge root or a real-trajectory table
        (see the module notes), or a data set opened with :func:`open_dataset`.
    detectors : str or sequence of str
        From :data:`DETECTORS` (``"gt,blob"`` or ``["gt", "blob"]``).
    trackers : str or sequence of str
        ``spermtrack``, ``sort``, ``spermtrack:<preset>`` or peer names (see :func:`resolve_tracker`).
    out_dir : str or PathLike
        Output folder (created).
    videos : sequence, optional
        Video ids to score (default: see :func:`open_dataset`). Ignored when ``dataset`` is opened.
    det_noise : str, optional
        Noise of the ``gt`` detector, e.g. ``"jitter=0.5,miss=0.1,fp=2,seed=0"``
        (:meth:`spermtrack.detectors.DetectionNoise.parse`); the detector is then called ``gt+noise``.
    clinical_csv : str or PathLike, optional
        Semen-analysis CSV for the ``lab`` grade reference (see :func:`open_dataset`).
    gate : float
        Centre gate in px for scoring and kinematic matching (MOTChallenge data: IoU >= 0.5 instead).
    progress : bool
        Show a tqdm progress bar over the grid on stderr.
    kinematics : str
        Kinematics preset for predicted tracks and ground-truth references (``who2021``, ``casa``, ``visem``).
    um_per_px : float
        Pixel size. Ignored when ``dataset`` is opened.
    min_overlap : float
        Majority threshold of the track matching for kinematic errors
        (:func:`spermtrack.eval.kinematic.match_tracks`).

    Returns
    -------
    pandas.DataFrame
        The leaderboard (:data:`LEADERBOARD_COLUMNS`), as written to ``leaderboard.csv``.

    Raises
    ------
    InputError
        Unknown detector or tracker names, an unreadable data set, or nothing left to run.
    """
    from tqdm import tqdm

    from spermtrack.detectors import DetectionNoise
    from spermtrack.kinematics import get_preset

    started = time.perf_counter()
    data = dataset if isinstance(dataset, BenchmarkData) else open_dataset(
        dataset, videos=videos, clinical_csv=clinical_csv, um_per_px=um_per_px)
    notes = list(data.notes)
    det_names = _plan_detectors(data.kind, _names(detectors, "detector"), notes)
    plan = _plan_trackers(_names(trackers, "tracker"), notes)
    noise = DetectionNoise.parse(det_noise) if det_noise else None
    if noise is not None and "gt" not in det_names:
        notes.append("det_noise ignored: the gt detector is not part of this run")
    frame_detectors = _frame_detectors(det_names, notes)
    det_names = [d for d in det_names if d not in ("blob", "yolo") or d in frame_detectors]
    if not det_names or not plan:
        raise InputError(f"nothing to run: {'; '.join(notes) or 'no detector or tracker left'}")
    if not (isinstance(gate, (int, float)) and math.isfinite(gate) and gate > 0):
        raise InputError(f"gate must be a positive number of px, got {gate!r}")
    metric = data.metric
    score_gate = float(gate) if metric == "centre" else 0.5
    config = get_preset(kinematics) if data.kind != "mot" else None
    det_label = {d: ("gt+noise" if d == "gt" and noise is not None else d) for d in det_names}

    refs = {s.name: _reference(s, data, config, notes) for s in data.sequences} if config is not None else {}
    runs = {(d, t): _Run(det_label[d], t) for d in det_names for t in plan}
    det_settings: dict[str, dict] = {}
    total = len(data.sequences) * len(runs) + len(runs)
    with tqdm(total=total, desc="benchmark", unit="run", disable=not progress, file=sys.stderr,
              dynamic_ncols=True) as bar:
        for seq in data.sequences:
            for d in det_names:
                bar.set_postfix_str(f"video {seq.name}: detecting ({det_label[d]})")
                t0 = time.perf_counter()
                dets = _detect(seq, d, noise, frame_detectors)
                det_s = time.perf_counter() - t0
                if dets is None:
                    notes.append(f"video {seq.name}: detector {d} has no input (no frames / no det.txt)")
                    for t in plan:
                        runs[(d, t)].failed = runs[(d, t)].failed or f"no {d} detections for video {seq.name}"
                    bar.update(len(plan))
                    continue
                det_settings.setdefault(d, _detector_settings(d, noise, frame_detectors))
                for t, spec in plan.items():
                    run = runs[(d, t)]
                    bar.set_postfix_str(f"video {seq.name}: {det_label[d]} / {t}")
                    if run.failed is None:
                        _track_one(run, seq, dets, spec, det_s, refs.get(seq.name), config, score_gate,
                                   min_overlap, data.kind != "mot")
                    bar.update(1)
        failed = [r for r in runs.values() if r.failed]
        for r in failed:
            notes.append(f"{r.detector} / {r.tracker} left out of the leaderboard: {r.failed}")
        scored = [r for r in runs.values() if not r.failed]
        if not scored:
            raise InputError(f"every detector x tracker failed: {'; '.join(notes)}")
        board_parts = []
        for run in scored:
            bar.set_postfix_str(f"scoring {run.detector} / {run.tracker}")
            board_parts.append(_score_run(run, data, metric, score_gate))
            bar.update(1)
        bar.update(total - bar.n)
    board = pd.concat(board_parts, ignore_index=True)[list(LEADERBOARD_COLUMNS)]
    kin_table = _kinematics_table(scored, refs)
    grade_table, grade_summary = _grade_tables(scored, refs)
    _write_outputs(Path(out_dir), data, board, kin_table, grade_table, grade_summary, notes, {
        "detectors": {det_label[d]: det_settings.get(d, {}) for d in det_names},
        "trackers": _tracker_settings(plan), "det_noise": None if noise is None else noise.to_dict(),
        "gate": score_gate, "metric": metric, "kinematics": None if config is None else config.to_dict(),
        "min_overlap": min_overlap, "elapsed_s": round(time.perf_counter() - started, 3)})
    return board


def _detector_settings(name: str, noise: Any, frame_detectors: Mapping[str, Any]) -> dict:
    if name == "gt":
        return {"name": "gt", "noise": None if noise is None else noise.to_dict()}
    if name == "public":
        return {"name": "public", "source": "det/det.txt"}
    return {"name": name, **frame_detectors[name].to_dict()}


def _track_one(run: _Run, seq: BenchmarkSequence, dets: pd.DataFrame, spec: tuple[str, str], det_s: float,
               ref: _Reference | None, config: Any, gate: float, min_overlap: float, with_kinematics: bool) -> None:
    """Track one video, time the tracker, keep slim tracks and the kinematic results."""
    from spermtrack.eval.kinematic import kinematic_errors, match_tracks
    from spermtrack.kinematics import analyze_tracks

    rec = seq.recording
    try:
        t0 = time.perf_counter()
        tracks = _run_tracker(dets, spec, rec)
        seconds = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - a failing peer must not sink the whole grid; reported in notes
        run.failed = f"the tracker raised on video {seq.name}: {type(exc).__name__}: {exc}"
        return
    run.seconds[seq.name] = seconds
    run.detector_fps[seq.name] = rec.n_frames / det_s if det_s > 0 else math.nan
    run.tracks[seq.name] = tracks[list(_SLIM)].reset_index(drop=True)
    if not with_kinematics or ref is None:
        return
    sperm = tracks[tracks["class_id"].to_numpy() == 0]
    result = analyze_tracks(sperm, rec.um_per_px, rec.fps, config, name=f"{run.tracker} tracks of video {seq.name}")
    run.percent[seq.name] = _percent(result.table)
    matches = match_tracks(seq.ground_truth, tracks, gate=gate, min_overlap=min_overlap)
    errors = kinematic_errors(result.table, ref.kinematics, matches)
    errors.attrs["method"] = matches.attrs["method"]
    run.errors[seq.name] = errors


def _score_run(run: _Run, data: BenchmarkData, metric: str, gate: float) -> pd.DataFrame:
    """Leaderboard rows (per video + OVERALL) of one detector x tracker."""
    from spermtrack.eval.mot import evaluate_sequences

    seqs = {s.name: s for s in data.sequences}
    pairs = {name: (seqs[name].ground_truth, tracks) for name, tracks in run.tracks.items()}
    n_frames = {name: seqs[name].recording.n_frames for name in pairs}
    table = _percent_metrics(evaluate_sequences(pairs, metric=metric, gate=gate, n_frames=n_frames))
    frames = pd.Series(n_frames, dtype=np.float64)
    seconds = pd.Series(run.seconds, dtype=np.float64)
    det_fps = pd.Series(run.detector_fps, dtype=np.float64)
    frames["OVERALL"], seconds["OVERALL"] = frames.sum(), seconds.sum()
    det_s = (frames.drop("OVERALL") / det_fps).sum()
    det_fps["OVERALL"] = frames["OVERALL"] / det_s if det_s > 0 else math.nan
    table["n_frames"] = frames.reindex(table.index).to_numpy()
    table["tracker_s"] = seconds.reindex(table.index).to_numpy()
    with np.errstate(divide="ignore"):
        table["tracker_fps"] = table["n_frames"] / table["tracker_s"].where(table["tracker_s"] > 0)
    table["detector_fps"] = det_fps.reindex(table.index).to_numpy()
    table.insert(0, "tracker", run.tracker)
    table.insert(0, "detector", run.detector)
    table.insert(0, "video", table.index.astype(str))
    return table.reset_index(drop=True)


def _percent_metrics(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for c in PERCENT_METRICS:
        if c in out.columns:
            out[c] = 100.0 * out[c]
    return out


def _kinematics_table(runs: list[_Run], refs: Mapping[str, _Reference]) -> pd.DataFrame:
    """``kinematics_error.csv``: per run, video and OVERALL (pairs pooled)."""
    from spermtrack.eval.kinematic import summarize_kinematic_errors, summary_keys

    rows = []
    for run in runs:
        if not run.errors:
            continue
        for name, errors in run.errors.items():
            ref = refs[name]
            rows.append({"video": name, "detector": run.detector, "tracker": run.tracker,
                         "reference": ref.kinematics_kind, "matching": errors.attrs.get("method", ""),
                         **summarize_kinematic_errors(errors, n_reference=len(ref.kinematics))})
        pooled = pd.concat(list(run.errors.values()), ignore_index=True)
        n_ref = sum(len(refs[name].kinematics) for name in run.errors)
        kinds = sorted({refs[name].kinematics_kind for name in run.errors})
        methods = sorted({e.attrs.get("method", "") for e in run.errors.values()})
        rows.append({"video": "OVERALL", "detector": run.detector, "tracker": run.tracker,
                     "reference": "+".join(kinds), "matching": "+".join(methods),
                     **summarize_kinematic_errors(pooled, n_reference=n_ref)})
    columns = ["video", "detector", "tracker", "reference", "matching", *summary_keys()]
    return pd.DataFrame(rows, columns=columns)


_GRADE_COLUMNS = ("detector", "tracker", "reference", "video", "category", "predicted_pct", "reference_pct",
                  "error_pct", "n", "mae", "rmse", "pearson_r", "bias", "sd", "loa_low", "loa_high")


def _grade_tables(runs: list[_Run], refs: Mapping[str, _Reference]) -> tuple[pd.DataFrame, dict]:
    """``grade_error.csv`` rows and, per (detector, tracker, reference), the per-video agreement table."""
    from spermtrack.eval.agreement import grade_agreement, percentages_table

    rows: list[dict] = []
    per_video: dict[tuple[str, str, str], pd.DataFrame] = {}
    for run in runs:
        if not run.percent:
            continue
        predicted = percentages_table(run.percent)
        kinds = [k for k in _REFERENCE_ORDER if all(k in refs[v].percent for v in predicted.index)]
        for kind in kinds:
            reference = percentages_table({v: refs[v].percent[kind] for v in predicted.index})
            videos, summary = grade_agreement(predicted, reference)
            per_video[(run.detector, run.tracker, kind)] = videos
            for rec in videos.itertuples(index=False):
                rows.append({"detector": run.detector, "tracker": run.tracker, "reference": kind,
                             "video": rec.video, "category": rec.category, "predicted_pct": rec.predicted,
                             "reference_pct": rec.reference, "error_pct": rec.error})
            for category, stats in summary.iterrows():
                rows.append({"detector": run.detector, "tracker": run.tracker, "reference": kind,
                             "video": "OVERALL", "category": category, **stats.to_dict()})
    table = pd.DataFrame(rows, columns=list(_GRADE_COLUMNS))
    if len(table):
        table["n"] = table["n"].astype("Int64")
    return table, per_video


# ======================================================================================================================
# Outputs
# ======================================================================================================================
def _overall(board: pd.DataFrame) -> pd.DataFrame:
    over = board[board["video"] == "OVERALL"]
    return over.sort_values(["HOTA", "IDF1"], ascending=False, kind="stable", na_position="last")


def _num(value: float, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "n/a"
    return format(float(value), spec)


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header)))
             + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def anchors_paragraph() -> str:
    """The published VISEM-Tracking anchors, with the caveat that they are context, not a comparison."""
    a = ANCHORS
    return (f"Published results on the real VISEM-Tracking data set, for context: HOTA {a['HOTA']['value']} % and "
            f"MOTA {a['MOTA']['value']} % ({a['HOTA']['method']}; {a['HOTA']['source']}), and IDF1 "
            f"{a['IDF1']['value']} % ({a['IDF1']['method']}; {a['IDF1']['source']}). They were measured on real "
            "VISEM-Tracking videos with trained real detectors, their own choice of videos and their own matching "
            "criterion (box IoU), so they are context, not a like-for-like comparison with the numbers above "
            "(other data, other detections, a centre-distance gate).")


def leaderboard_markdown(board: pd.DataFrame, *, title: str, description: str, kinematics: pd.DataFrame | None = None,
                         grades: pd.DataFrame | None = None, notes: Sequence[str] = (),
                         settings: str = "") -> str:
    """The ``leaderboard.md`` text.

    Parameters
    ----------
    board : pandas.DataFrame
        The leaderboard (:data:`LEADERBOARD_COLUMNS`).
    title, description, settings : str
        Heading, one line about the data set, one line about the settings.
    kinematics, grades : pandas.DataFrame, optional
        ``kinematics_error.csv`` and ``grade_error.csv`` tables; their ``OVERALL`` rows are summarised.
    notes : sequence of str
        Skipped items and other remarks, listed at the end.

    Returns
    -------
    str
        Markdown: the ``OVERALL`` rows sorted by HOTA, HOTA per video, kinematic and grade summaries,
        the anchors paragraph and the notes.
    """
    over = _overall(board)
    lines = [f"# {title}", "", description, ""]
    if settings:
        lines += [settings, ""]
    lines += ["## Overall, all videos pooled (sorted by HOTA; ratios in %)", ""]
    lines += _md_table(
        ["detector", "tracker", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN", "tracker fps"],
        ([r.detector, r.tracker, _num(r.HOTA), _num(r.DetA), _num(r.AssA), _num(r.MOTA), _num(r.IDF1),
          _num(r.IDSW, ".0f"), _num(r.FP, ".0f"), _num(r.FN, ".0f"), _num(r.tracker_fps, ".0f")]
         for r in over.itertuples(index=False)))
    videos = [v for v in dict.fromkeys(board["video"]) if v != "OVERALL"]
    if len(videos) > 1:
        lines += ["", "## HOTA per video (%)", ""]
        hota = board.set_index(["detector", "tracker", "video"])["HOTA"]
        lines += _md_table(["detector", "tracker", *videos],
                           ([r.detector, r.tracker, *(_num(hota.get((r.detector, r.tracker, v), math.nan))
                                                      for v in videos)] for r in over.itertuples(index=False)))
    order = [(r.detector, r.tracker) for r in over.itertuples(index=False)]
    if kinematics is not None and len(kinematics):
        lines += ["", "## Kinematic accuracy of matched tracks (all videos pooled)", "",
                  "MdAPE: median absolute percentage error; MdAE: median absolute error; grade: % of matched "
                  "graded tracks with the reference's WHO grade.", ""]
        k = kinematics[kinematics["video"] == "OVERALL"].set_index(["detector", "tracker"])
        rows = []
        for key in order:
            if key not in k.index:
                continue
            r = k.loc[key]
            rows.append([*key, str(r["reference"]), _num(r["matched_pct"]), _num(r["vcl_mdape"]), _num(r["vsl_mdape"]),
                         _num(r["vap_mdape"]), _num(r["prog_mdape"]), _num(r["lin_mdae"], ".3f"),
                         _num(r["grade_accuracy_pct"])])
        lines += _md_table(["detector", "tracker", "reference", "matched %", "VCL MdAPE %", "VSL MdAPE %",
                            "VAP MdAPE %", "progression MdAPE %", "LIN MdAE", "grade agreement %"], rows)
    if grades is not None and len(grades):
        lines += ["", "## Motility percentages vs reference (per video; percentage points)", "",
                  "MAE and Bland-Altman bias [95 % limits of agreement] over the videos (Bland & Altman 1986); "
                  "r: Pearson correlation.", ""]
        g = grades[grades["video"] == "OVERALL"].set_index(["detector", "tracker", "reference", "category"])
        rows = []
        for key in order:
            for kind in _REFERENCE_ORDER:
                if (*key, kind, "progressive") not in g.index:
                    continue
                cells = [*key, _REFERENCE_LABELS[kind]]
                for cat in ("progressive", "non_progressive", "immotile"):
                    r = g.loc[(*key, kind, cat)]
                    cells.append(f"{_num(r['mae'])} / {_num(r['bias'], '+.1f')} "
                                 f"[{_num(r['loa_low'], '+.1f')}, {_num(r['loa_high'], '+.1f')}]")
                cells.append(_num(g.loc[(*key, kind, "progressive")]["pearson_r"], ".2f"))
                rows.append(cells)
        lines += _md_table(["detector", "tracker", "reference", "progressive MAE / bias [LoA]",
                            "non-progressive MAE / bias [LoA]", "immotile MAE / bias [LoA]", "r (progressive)"], rows)
    lines += ["", "## Published anchors (context, not a comparison)", "", anchors_paragraph()]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot_leaderboard(board: pd.DataFrame, path: str | os.PathLike, *, title: str = "", dpi: int = 110) -> Path:
    """Write a PNG of the ``OVERALL`` rows: HOTA, MOTA and IDF1 bars (left) and tracker speed (right).

    Rows are sorted by HOTA (best on top). Rendered with matplotlib's Agg backend and its bundled
    DejaVu Sans font; written atomically.

    Parameters
    ----------
    board : pandas.DataFrame
        The leaderboard.
    path : str or PathLike
        The PNG to write.
    title : str
        Figure title.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from spermtrack.io.atomic import atomic_path

    over = _overall(board).iloc[::-1]
    labels = [f"{d} / {t}" for d, t in zip(over["detector"], over["tracker"])]
    n = max(len(over), 1)
    fig = Figure(figsize=(11.0, 1.6 + 0.5 * n), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_fps = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    y = np.arange(len(over))
    height = 0.26
    for k, (metric, colour) in enumerate((("HOTA", "tab:blue"), ("MOTA", "tab:orange"), ("IDF1", "tab:green"))):
        values = over[metric].to_numpy(np.float64)
        pos = y + (1 - k) * height
        ax.barh(pos, np.nan_to_num(values, nan=0.0), height=height, color=colour, label=metric)
        for yy, v in zip(pos, values):
            ax.text(max(v, 0) + 0.8 if np.isfinite(v) else 1, yy, _num(v), va="center", fontsize=7.5)
    lows = over[["HOTA", "MOTA", "IDF1"]].to_numpy(np.float64)
    low = float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0
    ax.set_xlim(min(0.0, low - 5), 108)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel("%  (all videos pooled)")
    ax.grid(True, axis="x", color="0.92")
    ax.set_axisbelow(True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8.5, ncols=3, frameon=False)
    fps = over["tracker_fps"].to_numpy(np.float64)
    ax_fps.barh(y, np.nan_to_num(fps, nan=0.0), height=0.6, color="0.55")
    for yy, v in zip(y, fps):
        ax_fps.text(v * 1.1 if np.isfinite(v) and v > 0 else 1, yy, _num(v, ".0f"), va="center", fontsize=7.5)
    if np.isfinite(fps).any() and np.nanmax(fps) > 0:
        ax_fps.set_xscale("log")
        ax_fps.set_xlim(max(np.nanmin(fps[fps > 0]) / 3, 0.1), np.nanmax(fps) * 6)
    ax_fps.set_xlabel("tracker frames / s (log)")
    ax_fps.grid(True, axis="x", color="0.92")
    ax_fps.set_axisbelow(True)
    if title:
        fig.suptitle(title, fontsize=11)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _write_outputs(out: Path, data: BenchmarkData, board: pd.DataFrame, kin: pd.DataFrame, grades: pd.DataFrame,
                   grade_videos: Mapping[tuple[str, str, str], pd.DataFrame], notes: list[str],
                   settings: dict) -> list[Path]:
    from spermtrack.eval.agreement import plot_agreement
    from spermtrack.io.atomic import write_csv, write_json, write_text
    from spermtrack.provenance import provenance

    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", out)
    out.mkdir(parents=True, exist_ok=True)
    title = f"Tracking benchmark: {data.source.name}"
    noise = settings["det_noise"]
    gate_text = (f"centre distance <= {settings['gate']:g} px" if settings["metric"] == "centre"
                 else f"IoU >= {settings['gate']:g}")
    settings_line = (f"Scoring: boxes pair when {gate_text} (HOTA, CLEAR MOT and IDF1 via TrackEval and "
                     f"py-motmetrics, all classes together); tracker fps counts the tracker alone."
                     + (f" gt+noise = ground-truth boxes with {_noise_text(noise)}." if noise else "")
                     + (f" Kinematics preset: {settings['kinematics']['name']}." if settings["kinematics"] else ""))
    written = [write_csv(out / "leaderboard.csv", board),
               write_csv(out / "kinematics_error.csv", kin),
               write_csv(out / "grade_error.csv", grades)]
    written.append(plot_leaderboard(board, out / "leaderboard.png", title=f"{title} ({len(data.sequences)} videos)"))
    best = _overall(board).iloc[0]
    for kind in _REFERENCE_ORDER:
        key = (best["detector"], best["tracker"], kind)
        if key in grade_videos:
            written.append(plot_agreement(
                grade_videos[key], out / "bland_altman.png", reference_label=f"{_REFERENCE_LABELS[kind]} (%)",
                predicted_label=f"{key[0]} / {key[1]} (%)",
                title=f"Motility % per video: {key[0]} / {key[1]} vs {_REFERENCE_LABELS[kind]} "
                      f"(best overall HOTA)"))
            break
    files = [p.name for p in written] + ["leaderboard.md", "benchmark.json"]
    text = leaderboard_markdown(board, title=title, description=data.describe() + ".", kinematics=kin,
                                grades=grades, notes=notes, settings=settings_line)
    written.append(write_text(out / "leaderboard.md", text))
    record = provenance(
        dataset={"kind": data.kind, "source": str(data.source), "synthetic": data.synthetic,
                 "videos": [s.name for s in data.sequences],
                 "recordings": {s.name: s.recording.to_dict() for s in data.sequences},
                 "clinical_csv": None if data.clinical_path is None else str(data.clinical_path)},
        **settings, notes=notes, files=files)
    written.append(write_json(out / "benchmark.json", _json_safe(record)))
    return written


def _noise_text(noise: Mapping[str, Any]) -> str:
    return (f"centre jitter {noise['jitter_px']:g} px, {100 * noise['miss_rate']:g} % missed, "
            f"{noise['fp_per_frame']:g} false positives per frame (seed {noise['seed']})")


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# ======================================================================================================================
# One ground truth, one result
# ======================================================================================================================
def _has_video_file(folder: Path) -> bool:
    from spermtrack.io.video import VIDEO_SUFFIXES

    return any(p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES for p in folder.iterdir())


def _read_visem_truth(folder: Path) -> tuple[pd.DataFrame, int]:
    from spermtrack.io.visem import read_visem_video

    video = read_visem_video(folder, fps=None if _has_video_file(folder) else 1.0)
    if not video.has_identities:
        raise InputError("has no labels_ftid/ (only boxes without identities): tracking cannot be scored", folder)
    return video.ground_truth, video.recording.n_frames


def _load_truth(path: Path) -> tuple[dict[str, tuple[pd.DataFrame, int | None]], str]:
    """Ground truth per sequence name (with its frame count when known) and the metric it implies."""
    from spermtrack.io.mot import read_mot
    from spermtrack.io.tables import read_tracks_csv
    from spermtrack.io.visem import list_videos, read_train_tracks

    if not path.exists():
        raise InputError("does not exist", path)
    if path.is_dir():
        mot = _mot_sequences(path)
        if mot:
            out = {}
            for folder in mot:
                info = _seqinfo(folder)
                n = int(info.get("seqlength", 0) or 0) or None
                gt_txt = folder / "gt" / "gt.txt"
                out[folder.name] = (_mot_ground_truth(read_mot(gt_txt, kind="gt"), gt_txt), n)
            return out, "iou"
        return {p.name: _read_visem_truth(p) for p in list_videos(path)}, "centre"
    if _is_table_file(path):
        head = pd.read_csv(path, nrows=0).columns
        if {"video", "cx", "cy"} <= set(head):
            return {v: (gt, rec.n_frames) for v, (rec, gt) in read_train_tracks(path).items()}, "centre"
        return {_stem(path): (read_tracks_csv(path), None)}, "centre"
    gt = _mot_ground_truth(read_mot(path, kind="gt"), path)
    folder = path.parent.parent if path.parent.name == "gt" else path.parent
    info = _seqinfo(folder)
    name = folder.name if path.name.lower() == "gt.txt" else _stem(path)
    return {name: (gt, int(info.get("seqlength", 0) or 0) or None)}, "iou"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".csv", ".txt"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _read_prediction(path: Path) -> pd.DataFrame:
    from spermtrack.io.mot import read_mot
    from spermtrack.io.tables import read_tracks_csv

    if _is_table_file(path):
        return read_tracks_csv(path)
    return read_mot(path, kind="result")


def _prediction_files(folder: Path) -> dict[str, Path]:
    """Result files of a prediction folder by sequence name.

    ``<name>.txt`` / ``<name>.csv`` (TrackEval's layout) or ``<name>/tracks_mot.txt`` /
    ``<name>/tracks.csv`` (what ``spermtrack track`` writes).
    """
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and (p.suffix.lower() == ".txt" or _is_table_file(p)):
            found.setdefault(_stem(p), p)
        elif p.is_dir():
            for name in ("tracks_mot.txt", "tracks.csv"):
                if (p / name).is_file():
                    found.setdefault(p.name, p / name)
                    break
    return found


def _load_predictions(path: Path, names: list[str]) -> dict[str, pd.DataFrame]:
    if not path.exists():
        raise InputError("does not exist", path)
    if path.is_file():
        if len(names) != 1:
            raise InputError(f"is one result file, but the ground truth holds {len(names)} sequences "
                             f"({', '.join(names)}): give a folder with one result per sequence "
                             "(<name>.txt or <name>/tracks_mot.txt)", path)
        return {names[0]: _read_prediction(path)}
    files = _prediction_files(path)
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
    return {n: _read_prediction(files[n]) for n in names}


def evaluate_pair(gt_path: str | os.PathLike, pred_path: str | os.PathLike, *, metric: str | None = "centre",
                  gate: float | None = None, percent: bool = True) -> pd.DataFrame:
    """Score one result against one ground truth: the table ``spermtrack evaluate`` prints.

    Parameters
    ----------
    gt_path : str or PathLike
        A VISEM-Tracking video folder or root (``labels_ftid`` identities), a MOTChallenge ``gt.txt``,
        sequence folder or root, a real-trajectory table (``train_tracks.csv.gz`` layout) or a tracks CSV.
    pred_path : str or PathLike
        One result file (MOTChallenge ``.txt`` or a tracks ``.csv``) when the ground truth holds one
        sequence, else a folder with one result per sequence: ``<name>.txt`` / ``<name>.csv`` or
        ``<name>/tracks_mot.txt`` / ``<name>/tracks.csv``.
    metric : {"centre", "iou"} or None
        How boxes pair (see :func:`spermtrack.eval.mot.mot_metrics`); ``None`` chooses from the ground
        truth: IoU for MOTChallenge files, centre distance otherwise.
    gate : float, optional
        Centre gate in px (default 10) or minimum IoU (default 0.5).
    percent : bool
        Report ratio metrics (:data:`PERCENT_METRICS`) in percent (default) rather than as fractions.

    Returns
    -------
    pandas.DataFrame
        One row per sequence (index = name) and ``OVERALL`` (pooled; see
        :func:`spermtrack.eval.mot.evaluate_sequences`): CLEAR MOT, identity and HOTA metrics.

    Raises
    ------
    InputError
        Unreadable or malformed files (named with the line), duplicate ``(frame, id)`` rows or negative ids
        in a result file, frames outside a video whose length is known (VISEM folder, ``seqinfo.ini``),
        result files for sequences the ground truth does not hold, sequences without a result, or a
        ground truth without any object (nothing to score: MOTA, recall and IDF1 would be undefined).
        A single sequence without objects among others is scored and its undefined metrics are NaN.
    """
    from spermtrack.eval.mot import evaluate_sequences

    truth, implied = _load_truth(Path(gt_path))
    if not truth:
        raise InputError("holds no sequence to score", gt_path)
    if all(len(gt) == 0 for gt, _ in truth.values()):
        raise InputError("the ground truth has no object: there is nothing to score (MOTA, recall and IDF1 are "
                         "undefined without ground-truth boxes)", gt_path)
    names = list(truth)
    preds = _load_predictions(Path(pred_path), names)
    pairs = {n: (truth[n][0], preds[n]) for n in names}
    n_frames = {n: truth[n][1] for n in names if truth[n][1] is not None}
    table = evaluate_sequences(pairs, metric=metric or implied, gate=gate, n_frames=n_frames)
    return _percent_metrics(table) if percent else table
