"""The benchmark grid: every detector x every tracker on every video, scored (see :mod:`spermtrack.scoring`).

Detector and tracker names are resolved by the stage registries
(:func:`spermtrack.detectors.make_detector`, :func:`spermtrack.tracker.make_tracker`); ``public`` is a
MOTChallenge sequence's own ``det/det.txt``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spermtrack.scoring.data import BenchmarkData, BenchmarkSequence, open_dataset
from spermtrack.scoring.leaderboard import LEADERBOARD_COLUMNS, REFERENCE_ORDER, percent_metrics, write_outputs
from spermtrack.errors import InputError
from spermtrack.io.atomic import check_output_folder, output_folder
from spermtrack.eval.agreement import CATEGORIES
from spermtrack.schema import Recording
from spermtrack.detectors import DETECTOR_NAMES
from spermtrack.kinematics.config import DEFAULT_PRESET
from spermtrack.tracker.registry import DEFAULT_TRACKER

__all__ = ["DEFAULT_DETECTORS", "DEFAULT_TRACKERS", "DETECTORS", "run_benchmark"]

#: Detector names: the detector registry's (``blob``, ``yolo``, ``trackpy``, ``gt``) and ``public`` (a
#: MOTChallenge sequence's ``det/det.txt``).
DETECTORS: tuple[str, ...] = (*DETECTOR_NAMES, "public")
#: What a benchmark runs unless told otherwise: ground-truth boxes and the zero-weight detector, against
#: spermtrack's default tracker, SORT and the peers.
DEFAULT_DETECTORS: tuple[str, ...] = ("gt", "blob")
DEFAULT_TRACKERS: tuple[str, ...] = (DEFAULT_TRACKER, "sort", "bytetrack", "ocsort", "botsort", "trackpy")
_SLIM = ("frame", "track_id", "x", "y", "w", "h")


# ---------------------------------------------------------------------------------------------- detectors and trackers
def _names(value: str | Iterable[str], what: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [str(v).strip() for v in items if str(v).strip()]
    if not out:
        raise InputError(f"give at least one {what}")
    return list(dict.fromkeys(out))


def _plan_detectors(kind: str, requested: list[str], notes: list[str]) -> list[str]:
    """The detectors that can run on this kind of data set (others are skipped with a note)."""
    from spermtrack.detectors import FRAME_DETECTORS

    unknown = [d for d in requested if d not in DETECTORS]
    if unknown:
        raise InputError(f"unknown detector(s) {', '.join(unknown)}; choose from {', '.join(DETECTORS)}")
    frame = [d for d in requested if d in FRAME_DETECTORS]
    if kind == "mot":
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


def _build_detectors(names: list[str], det_noise: str | None, notes: list[str]) -> dict[str, Any]:
    """Detectors from the registry (``public`` has none); one that cannot be built is skipped with a note."""
    from spermtrack.detectors import make_detector

    built = {}
    for name in names:
        if name == "public":
            continue
        try:
            built[name] = make_detector(name, noise=det_noise) if name == "gt" else make_detector(name)
        except (InputError, ImportError, OSError) as exc:
            notes.append(f"detector {name} skipped: {exc}")
    return built


def _plan_trackers(requested: list[str], notes: list[str]) -> list[str]:
    """Tracker names from the registry; a peer whose package is missing is skipped with a note."""
    from spermtrack.tracker import available_trackers, tracker_names
    from spermtrack.tracker.peers import PEER_PACKAGES

    known = tracker_names()
    for name in requested:
        if name not in known:
            raise InputError(f"unknown tracker {name!r}; choose one of {', '.join(known)}")
    usable = available_trackers()
    for name in requested:
        if not usable[name]:
            notes.append(f"tracker {name} skipped: its package {PEER_PACKAGES[name]!r} is not installed "
                         f"(pip install {PEER_PACKAGES[name]})")
    return [t for t in requested if usable[t]]


def _detect(seq: BenchmarkSequence, name: str, detectors: Mapping[str, Any]) -> pd.DataFrame | None:
    rec = seq.recording
    if name == "public":
        return seq.public_detections
    detector = detectors[name]
    if not detector.needs_frames:
        gt = seq.ground_truth
        if "consider" in gt.columns:
            gt = gt[gt["consider"].to_numpy() != 0]
        return detector.detect_truth(gt, width=rec.width, height=rec.height, n_frames=rec.n_frames)
    if seq.video is None:
        return None
    return detector.detect_video(seq.video.iter_frames(), total=rec.n_frames)


def _run_tracker(dets: pd.DataFrame, name: str, rec: Recording) -> pd.DataFrame:
    from spermtrack.tracker import make_tracker

    return make_tracker(name, fps=rec.fps, um_per_px=rec.um_per_px).track(dets)


def _tracker_settings(names: list[str]) -> dict[str, dict]:
    """Each tracker's settings at the presets' reference calibration (50 fps, VISEM-Tracking's pixel size)."""
    from spermtrack.tracker import make_tracker

    return {name: make_tracker(name).to_dict() for name in names}


# ---------------------------------------------------------------------------------------------- references
@dataclass(frozen=True, eq=False)
class _Reference:
    """Reference kinematics (per true track) and percentages (per reference kind) of one video."""

    kinematics: pd.DataFrame | None
    kinematics_kind: str | None
    percent: dict[str, dict[str, float]]


def _percent(result_table: pd.DataFrame) -> dict[str, float]:
    from spermtrack.kinematics import motility_percentages

    pct = motility_percentages(result_table)["percent"]
    return {c: math.nan if pct[c] is None else float(pct[c]) for c in CATEGORIES}


def _reference(seq: BenchmarkSequence, data: BenchmarkData, config: Any, notes: list[str]) -> _Reference:
    from spermtrack.eval.kinematic import truth_reference
    from spermtrack.kinematics import analyze_tracks
    from spermtrack.synth import true_percentages  # here, not at import: `evaluate` never needs the generator

    percent: dict[str, dict[str, float]] = {}
    if seq.truth_objects is not None:
        kin = truth_reference(seq.truth_objects, seq.ground_truth, alh_factor=config.alh_factor)
        kind = "truth"
        truth = true_percentages(seq.truth_objects)
        percent["truth"] = {c: truth[c] for c in CATEGORIES}
    else:
        gt = seq.ground_truth
        rec = seq.recording
        kin = analyze_tracks(gt, rec.um_per_px, rec.fps, config,  # the preset's class_ids decide what is graded
                             name=f"ground truth of video {seq.name}").table
        kind = "gt_tracks"
        percent["gt_tracks"] = _percent(kin)
    if data.clinical is not None:
        if seq.name in data.clinical.index:
            row = data.clinical.loc[seq.name]
            percent["lab"] = {c: float(row[c]) for c in CATEGORIES}
        else:
            notes.append(f"video {seq.name}: no row in {data.clinical_path} (lab reference missing)")
            percent["lab"] = dict.fromkeys(CATEGORIES, math.nan)
    return _Reference(kin, kind, percent)



# ---------------------------------------------------------------------------------------------- the grid
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
    detectors: str | Sequence[str] = DEFAULT_DETECTORS,
    trackers: str | Sequence[str] = DEFAULT_TRACKERS,
    out_dir: str | os.PathLike,
    videos: Sequence[str | int] | None = None,
    det_noise: str | None = None,
    clinical_csv: str | os.PathLike | None = None,
    gate: float = 10.0,
    progress: bool = True,
    preset: str = DEFAULT_PRESET,
    um_per_px: float,
    min_overlap: float = 0.5,
) -> pd.DataFrame:
    """Run every detector x tracker on every video, score them and write the leaderboard.

    Parameters
    ----------
    dataset : str, PathLike or BenchmarkData
        A VISEM-Tracking root (real or synthetic), a MOTChallenge root or a real-trajectory table
        (see the module notes), or a data set opened with :func:`open_dataset`.
    detectors : str or sequence of str
        From :data:`DETECTORS` (``"gt,blob"`` or ``["gt", "blob"]``): the detector registry's names
        (:func:`spermtrack.detectors.make_detector`) and ``public``; default :data:`DEFAULT_DETECTORS`.
    trackers : str or sequence of str
        Names of the tracker registry (:func:`spermtrack.tracker.make_tracker`): ``sperm``, ``sort``, ...,
        and peers; default :data:`DEFAULT_TRACKERS`.
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
    preset : str
        Kinematics preset for predicted tracks and ground-truth references (``who2021``, ``casa``, ``visem``).
    um_per_px : float
        Pixel size (required; VISEM-Tracking: :data:`spermtrack.constants.VISEM_UM_PER_PX`). Ignored when
        ``dataset`` is opened.
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

    from spermtrack.kinematics import get_preset

    inputs = [p for p in (None if isinstance(dataset, BenchmarkData) else dataset, clinical_csv) if p is not None]
    check_output_folder(out_dir, inputs=inputs)
    started = time.perf_counter()
    data = dataset if isinstance(dataset, BenchmarkData) else open_dataset(
        dataset, videos=videos, clinical_csv=clinical_csv, um_per_px=um_per_px)
    notes = list(data.notes)
    det_names = _plan_detectors(data.kind, _names(detectors, "detector"), notes)
    plan = _plan_trackers(_names(trackers, "tracker"), notes)
    if det_noise and "gt" not in det_names:
        notes.append("det_noise ignored: the gt detector is not part of this run")
    built = _build_detectors(det_names, det_noise or None, notes)
    det_names = [d for d in det_names if d == "public" or d in built]
    if not det_names or not plan:
        raise InputError(f"nothing to run: {'; '.join(notes) or 'no detector or tracker left'}")
    if not (isinstance(gate, (int, float)) and math.isfinite(gate) and gate > 0):
        raise InputError(f"gate must be a positive number of px, got {gate!r}")
    metric = data.metric
    score_gate = float(gate) if metric == "centre" else 0.5
    config = get_preset(preset) if data.kind != "mot" else None
    det_label = {d: ("gt+noise" if d == "gt" and det_noise else d) for d in det_names}

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
                dets = _detect(seq, d, built)
                det_s = time.perf_counter() - t0
                if dets is None:
                    notes.append(f"video {seq.name}: detector {d} has no input (no frames / no det.txt)")
                    for t in plan:
                        runs[(d, t)].failed = runs[(d, t)].failed or f"no {d} detections for video {seq.name}"
                    bar.update(len(plan))
                    continue
                det_settings.setdefault(d, built[d].to_dict() if d in built else
                                        {"detector": "public", "source": "det/det.txt"})
                for t in plan:
                    run = runs[(d, t)]
                    bar.set_postfix_str(f"video {seq.name}: {det_label[d]} / {t}")
                    if run.failed is None:
                        _track_one(run, seq, dets, t, det_s, refs.get(seq.name), config, score_gate,
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
    with output_folder(out_dir, inputs=inputs) as out:
        write_outputs(out, data, board, kin_table, grade_table, grade_summary, notes, {
            "detectors": {det_label[d]: det_settings.get(d, {}) for d in det_names},
            "trackers": _tracker_settings(plan),
            "det_noise": built["gt"].to_dict()["noise"] if "gt" in built else None,
            "gate": score_gate, "metric": metric, "kinematics": None if config is None else config.to_dict(),
            "min_overlap": min_overlap, "elapsed_s": round(time.perf_counter() - started, 3)})
    return board


def _track_one(run: _Run, seq: BenchmarkSequence, dets: pd.DataFrame, tracker: str, det_s: float,
               ref: _Reference | None, config: Any, gate: float, min_overlap: float, with_kinematics: bool) -> None:
    """Track one video, time the tracker, keep slim tracks and the kinematic results."""
    from spermtrack.eval.kinematic import kinematic_errors, match_tracks
    from spermtrack.kinematics import analyze_tracks

    rec = seq.recording
    try:
        t0 = time.perf_counter()
        tracks = _run_tracker(dets, tracker, rec)
        seconds = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - a failing peer must not sink the whole grid; reported in notes
        run.failed = f"the tracker raised on video {seq.name}: {type(exc).__name__}: {exc}"
        return
    run.seconds[seq.name] = seconds
    run.detector_fps[seq.name] = rec.n_frames / det_s if det_s > 0 else math.nan
    run.tracks[seq.name] = tracks[list(_SLIM)].reset_index(drop=True)
    if not with_kinematics or ref is None:
        return
    result = analyze_tracks(tracks, rec.um_per_px, rec.fps, config, name=f"{run.tracker} tracks of video {seq.name}")
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
    table = percent_metrics(evaluate_sequences(pairs, metric=metric, gate=gate, n_frames=n_frames))
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
                  "error_pct", "n", "mae", "rmse", "pearson_r", "pearson_p", "bias", "sd", "loa_low",
                  "loa_high")


def _grade_tables(runs: list[_Run], refs: Mapping[str, _Reference]) -> tuple[pd.DataFrame, dict]:
    """``grade_error.csv`` rows and, per (detector, tracker, reference), the per-video agreement table."""
    from spermtrack.eval.agreement import grade_agreement, percentages_table

    rows: list[dict] = []
    per_video: dict[tuple[str, str, str], pd.DataFrame] = {}
    for run in runs:
        if not run.percent:
            continue
        predicted = percentages_table(run.percent)
        kinds = [k for k in REFERENCE_ORDER if all(k in refs[v].percent for v in predicted.index)]
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
