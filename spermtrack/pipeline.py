"""The pipeline: the one place where detectors, the tracker and kinematics meet.

``frames -> detections -> tracks -> kinematics + sample summary`` for one video (:func:`run_pipeline`),
computed only: writing the results is :mod:`spermtrack.analysis`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from spermtrack._validate import Config
from spermtrack.errors import InputError
from spermtrack.schema import Recording


@dataclass(frozen=True)
class PipelineConfig(Config):
    """What to run on a video: names from the stage registries, and their options.

    Parameters
    ----------
    detector : str
        A name of :func:`spermtrack.detectors.make_detector` (``blob`` default, ``yolo``, ``trackpy``,
        ``gt``: the folder's labelled boxes).
    detector_options : dict
        Its options, e.g. ``{"weights": "best.pt"}`` for ``yolo`` or ``{"noise": "jitter=0.5,miss=0.1"}``
        for ``gt``.
    tracker : str
        A name of :func:`spermtrack.tracker.make_tracker` (``sperm`` default, ``sort``, peers).
    tracker_options : dict
        Its options (e.g. :class:`~spermtrack.tracker.TrackerConfig` parameters).
    kinematics : str
        A kinematics preset (``who2021`` default, ``casa``, ``visem``).
    """

    detector: str = "blob"
    detector_options: dict = field(default_factory=dict)
    tracker: str = "sperm"
    tracker_options: dict = field(default_factory=dict)
    kinematics: str = "who2021"

    def __post_init__(self) -> None:
        from spermtrack.detectors import DETECTOR_NAMES
        from spermtrack.kinematics import PRESETS as KINEMATICS_PRESETS
        from spermtrack.tracker import tracker_names

        self._choice("detector", DETECTOR_NAMES)
        self._choice("tracker", tracker_names())
        self._choice("kinematics", KINEMATICS_PRESETS)
        for name in ("detector_options", "tracker_options"):
            if not isinstance(getattr(self, name), dict):
                raise self._fail(name, "a dict of options")


@dataclass
class Analysis:
    """Everything the pipeline produced for one video."""

    video_id: str
    recording: Recording
    detections: pd.DataFrame
    tracks: pd.DataFrame
    kinematics: pd.DataFrame
    summary: dict
    tracker_config: dict
    detector_config: dict
    notes: list[str] = field(default_factory=list)
    """Things the user should know about the run (e.g. why it produced no track)."""


def timed(items: Iterable, timings: dict[str, float], key: str) -> Iterator:
    """Yield from ``items``, adding the time spent producing each item to ``timings[key]`` (seconds)."""
    it = iter(items)
    while True:
        start = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
            return
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
        yield item


def detect(video, config: PipelineConfig, *, progress: bool = False,
           timings: dict[str, float] | None = None) -> tuple[pd.DataFrame, dict]:
    """Run the configured detector on a :class:`~spermtrack.io.visem.VisemVideo`; return the table and its settings.

    Frame detectors stream the video's frames (memory does not grow with its length); the ``gt``
    detector reads its labelled boxes. ``timings`` (optional) receives the seconds spent decoding
    (``decode``) and detecting (``detect``).
    """
    from spermtrack.detectors import make_detector

    timings = {} if timings is None else timings
    detector = make_detector(config.detector, **config.detector_options)
    rec = video.recording
    start, decode_before = time.perf_counter(), timings.get("decode", 0.0)
    if detector.needs_frames:
        frames = timed(video.iter_frames(), timings, "decode")
        dets = detector.detect_video(frames, progress=progress, total=rec.n_frames)
        timings["detect"] = timings.get("detect", 0.0) + time.perf_counter() - start - (
            timings["decode"] - decode_before)
    else:
        if not video.has_identities and not len(video.ground_truth):
            raise InputError("has no labels: the gt detector needs labels or labels_ftid", video.folder)
        dets = detector.detect_truth(video.ground_truth, width=rec.width, height=rec.height, n_frames=rec.n_frames)
        timings["detect"] = timings.get("detect", 0.0) + time.perf_counter() - start
    return dets, detector.to_dict()


class TrackingRun(NamedTuple):
    """What :func:`run_tracker` returns."""

    tracks: pd.DataFrame
    """The tracks table."""
    settings: dict
    """The tracker's name and settings, for provenance."""
    note: str | None
    """Why there is no track although there were detections (None when there are tracks)."""


def run_tracker(detections: pd.DataFrame, name: str, *, fps: float, um_per_px: float, **options) -> TrackingRun:
    """Track a whole table with the tracker called ``name`` (:func:`spermtrack.tracker.make_tracker`).

    Returns
    -------
    TrackingRun
        ``(tracks, settings, note)``.
    """
    from spermtrack.tracker import explain_no_tracks, make_tracker
    from spermtrack.tracker.registry import PresetTracker

    tracker = make_tracker(name, fps=fps, um_per_px=um_per_px, **options)
    tracks = tracker.track(detections)
    if isinstance(tracker, PresetTracker):
        note = explain_no_tracks(detections, tracks, tracker.config)
    elif len(detections) and not (tracks["track_id"].to_numpy() >= 0).any():
        note = f"no track: the peer tracker {name} kept none of the {len(detections)} detections"
    else:
        note = None
    return TrackingRun(tracks, tracker.to_dict(), note)


def run_pipeline(video, config: PipelineConfig | None = None, *, progress: bool = False,
                 timings: dict[str, float] | None = None) -> Analysis:
    """Detect, track and grade one video.

    Parameters
    ----------
    video : spermtrack.io.visem.VisemVideo
        The video (frames, recording, optional labels).
    config : PipelineConfig, optional
        What to run; default blob -> sperm -> who2021.
    progress : bool
        Show a progress bar over frames.
    timings : dict, optional
        Receives the seconds per stage: ``decode``, ``detect``, ``track``, ``kinematics``.

    Returns
    -------
    Analysis
    """
    from spermtrack.kinematics import analyze_tracks, get_preset, summarize

    config = config or PipelineConfig()
    timings = {} if timings is None else timings
    rec = video.recording
    dets, det_cfg = detect(video, config, progress=progress, timings=timings)
    start = time.perf_counter()
    tracks, trk_cfg, note = run_tracker(dets, config.tracker, fps=rec.fps, um_per_px=rec.um_per_px,
                                        **config.tracker_options)
    timings["track"] = timings.get("track", 0.0) + time.perf_counter() - start
    start = time.perf_counter()
    sperm = tracks[tracks["class_id"] == 0]
    result = analyze_tracks(sperm, rec.um_per_px, rec.fps, get_preset(config.kinematics), name=video.video_id)
    summary = summarize(result, n_frames=rec.n_frames, frame_size_px=(rec.width, rec.height))
    timings["kinematics"] = timings.get("kinematics", 0.0) + time.perf_counter() - start
    if not len(dets):
        note = (f"the {config.detector} detector found no object in any of the {rec.n_frames} frames: check that "
                "the video shows sperm and the detector's settings (blob: --polarity; yolo: --weights)")
    return Analysis(video_id=video.video_id, recording=rec, detections=dets, tracks=tracks,
                    kinematics=result.table, summary=summary, tracker_config=trk_cfg, detector_config=det_cfg,
                    notes=[] if note is None else [note])
