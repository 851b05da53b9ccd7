"""The pipeline: the one place where detectors, the tracker and kinematics meet.

``frames -> detections -> tracks -> kinematics + sample summary`` for one video (:func:`run_pipeline`),
computed only: writing the results is :mod:`spermtrack.analysis`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.detectors import DEFAULT_DETECTOR
from spermtrack.errors import InputError
from spermtrack.kinematics.config import DEFAULT_PRESET
from spermtrack.schema import Recording
from spermtrack.tracker.registry import DEFAULT_TRACKER


@dataclass(frozen=True)
class PipelineConfig(Config):
    """What to run on a video: names from the stage registries, and their options (the stage config).

    The one model of the stage choice: :class:`~spermtrack.analysis.AnalyzeConfig` and the regressors'
    :class:`~spermtrack.crosscheck.inputs.InputSettings` embed it as ``stages``.

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
    preset : str
        The kinematics / grading preset (``who2021`` default, ``casa``, ``visem``).
    per_sperm_model : str or None
        Also grade every graded track from the pixels around it (:func:`per_sperm_grades`): ``"shipped"``
        (the model in the package) or the path of a per-sperm checkpoint; ``None`` (default) skips it.
    """

    detector: str = DEFAULT_DETECTOR
    detector_options: dict = field(default_factory=dict)
    tracker: str = DEFAULT_TRACKER
    tracker_options: dict = field(default_factory=dict)
    preset: str = DEFAULT_PRESET
    per_sperm_model: str | None = None

    def __post_init__(self) -> None:
        from spermtrack.detectors import DETECTOR_NAMES
        from spermtrack.kinematics import KINEMATICS_PRESETS
        from spermtrack.tracker import tracker_names

        self._choice("detector", DETECTOR_NAMES)
        self._choice("tracker", tracker_names())
        self._choice("preset", KINEMATICS_PRESETS)
        for name in ("detector_options", "tracker_options"):
            if not isinstance(getattr(self, name), dict):
                raise self._fail(name, "a dict of options")
        if self.per_sperm_model is not None and (not isinstance(self.per_sperm_model, str) or not self.per_sperm_model):
            raise self._fail("per_sperm_model", "'shipped' or the path of a per-sperm checkpoint")


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

    Frame detectors stream the video's frames (memory does not grow with its length) and work at the
    recording's pixel size (:func:`~spermtrack.detectors.with_pixel_size`); the ``gt``
    detector reads its labelled boxes. ``timings`` (optional) receives the seconds spent decoding
    (``decode``) and detecting (``detect``).
    """
    from spermtrack.detectors import make_detector, with_pixel_size

    timings = {} if timings is None else timings
    rec = video.recording
    detector = make_detector(config.detector, **with_pixel_size(config.detector, config.detector_options,
                                                                rec.um_per_px))
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
        note = explain_no_tracks(detections, tracks, tracker.used_config)
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
    # a bad checkpoint fails before any frame is read
    per_sperm = None if config.per_sperm_model is None else load_per_sperm_model(config.per_sperm_model)
    dets, det_cfg = detect(video, config, progress=progress, timings=timings)
    start = time.perf_counter()
    tracks, trk_cfg, note = run_tracker(dets, config.tracker, fps=rec.fps, um_per_px=rec.um_per_px,
                                        **config.tracker_options)
    timings["track"] = timings.get("track", 0.0) + time.perf_counter() - start
    start = time.perf_counter()
    # every track goes in: the preset's class_ids decide which are graded (the others are listed, ungraded)
    result = analyze_tracks(tracks, rec.um_per_px, rec.fps, get_preset(config.preset), name=video.video_id)
    summary = summarize(result, n_frames=rec.n_frames, frame_size_px=(rec.width, rec.height))
    timings["kinematics"] = timings.get("kinematics", 0.0) + time.perf_counter() - start
    kinematics = result.table
    if per_sperm is not None:
        start = time.perf_counter()
        kinematics, summary["per_sperm_model"] = per_sperm_grades(video, tracks, kinematics, per_sperm)
        timings["per_sperm"] = time.perf_counter() - start
    notes = [] if note is None else [note]
    notes += quality_notes(dets, tracks, summary, rec, config.detector)
    return Analysis(video_id=video.video_id, recording=rec, detections=dets, tracks=tracks,
                    kinematics=kinematics, summary=summary, tracker_config=trk_cfg, detector_config=det_cfg,
                    notes=notes)


def detections_to_track(input: Path | None, *, detections: str = "gt", detector: str | None = None,
                        detector_options: dict | None = None, um_per_px: float, fps: float | None = None,
                        allow_truncated: bool = False,
                        progress: bool = True) -> tuple[pd.DataFrame, Recording | None, dict]:
    """The detections ``spermtrack track`` tracks: from a detector on the frames, a detections file or the labels.

    Everything that can be checked (the input, its frame rate) is checked before any detection runs.

    Parameters
    ----------
    input : Path or None
        A video input (:func:`spermtrack.io.inputs.open_video`); optional with a detections file.
    detections : str
        ``"gt"``: the input's labelled boxes (a VISEM-Tracking video folder), through the ``gt`` detector
        with ``detector_options`` (its noise); else the path of a MOTChallenge det.txt.
    detector : str or None
        A detector that reads frames; when given it runs on the input's frames instead.
    detector_options : dict, optional
        Options of the detector (or of ``gt``).
    um_per_px, fps : float
        The recording's pixel size, and its frame rate when the container has none (or there is none).
    allow_truncated : bool
        Use the frames of a video that ends before its container says (with a warning).
    progress : bool
        Show a progress bar over frames.

    Returns
    -------
    (pandas.DataFrame, Recording or None, dict)
        The detections, the input's recording (None for a detections file without input), and what they
        came from (for provenance).
    """
    from spermtrack.detectors import make_detector, with_pixel_size
    from spermtrack.io.inputs import open_video

    options = dict(detector_options or {})

    def opened():
        return open_video(input, um_per_px=um_per_px, fps=fps, allow_truncated=allow_truncated)

    if detector is not None:
        if input is None:
            raise InputError("--detector needs INPUT, a video folder, video file or image folder")
        video = opened()
        made = make_detector(detector, **with_pixel_size(detector, options, video.recording.um_per_px))
        dets = made.detect_video(video.iter_frames(), progress=progress, total=video.recording.n_frames)
        return dets, video.recording, {"detector": made.to_dict(), "input": str(input)}
    if detections != "gt":
        from spermtrack.io.mot import read_mot

        recording = None if input is None else opened().recording
        if recording is None and fps is None:
            raise InputError("--fps is required: a detections file stores no frame rate (or give INPUT, the video)")
        return read_mot(Path(detections), kind="det"), recording, {"detections": str(detections)}
    if input is None:
        raise InputError("--detections gt needs INPUT, a VISEM-Tracking video folder with labels")
    if Path(input).is_file():
        raise InputError("is a video file; --detections gt needs a VISEM-Tracking video folder with labels "
                         "(to detect on a video file, use --detector blob or --detector yolo)", input)
    video = opened()
    rec = video.recording
    if not len(video.ground_truth):
        raise InputError(f"has no labelled boxes ({video.label_source}): --detections gt needs labels/ or "
                         "labels_ftid/; run a detector on the frames instead (--detector blob)", input)
    made = make_detector("gt", **options)
    dets = made.detect_truth(video.ground_truth, width=rec.width, height=rec.height, n_frames=rec.n_frames)
    return dets, rec, {"detector": made.to_dict(), "input": str(input)}


def load_per_sperm_model(spec: str):
    """The per-sperm model ``spec`` names: ``"shipped"`` (``regressors/weights/per_sperm.pt``) or a checkpoint path."""
    import importlib.resources

    from spermtrack.extras import require

    require("torch", purpose="the per-sperm video model (--per-sperm-model)")
    from spermtrack.regressors.per_sperm import load_per_sperm

    if spec == "shipped":
        resource = importlib.resources.files("spermtrack.regressors").joinpath("weights", "per_sperm.pt")
        with importlib.resources.as_file(resource) as path:
            return load_per_sperm(path)
    return load_per_sperm(spec)


def per_sperm_grades(video, tracks: pd.DataFrame, kinematics: pd.DataFrame, model) -> tuple[pd.DataFrame, dict]:
    """Grade every graded track from a clip cut along it, beside its kinematic grade.

    Parameters
    ----------
    video : spermtrack.io.visem.VisemVideo
        The video (its frames are decoded once more, up to the last frame a clip needs).
    tracks, kinematics : pandas.DataFrame
        The tracks and the kinematics table (``track_id``, ``grade``, ``graded``).
    model : spermtrack.regressors.per_sperm.PerSpermModel
        The per-sperm video model.

    Returns
    -------
    kinematics : pandas.DataFrame
        With ``p_a, p_b, p_c, p_d`` (the model's distribution), ``grade_video`` (its most likely
        grade), ``grade_combined`` (the kinematic grade for a and b, the model's choice between c and d
        otherwise: head tracks cannot see a tail beating in place) and ``grade_disagrees`` (kinematic
        and video grade differ); empty for ungraded tracks.
    summary : dict
        ``percent_video`` (mean of the distributions), ``percent_combined``, ``n``, ``disagreements``
        and the model's ``info``.
    """
    from spermtrack.kinematics import measured_rows
    from spermtrack.regressors.clips import clip_plan, cut_clips
    from spermtrack.regressors.per_sperm import GRADES, combine_grades

    rec = video.recording
    graded = kinematics[kinematics["graded"].astype(bool)]
    plan = clip_plan(measured_rows(tracks, graded), fps=rec.fps)      # the stretch the grade was measured on
    clips, ids = cut_clips(video.iter_frames(stop=int(plan["frame"].max()) + 1) if len(plan) else iter(()), plan,
                           um_per_px=rec.um_per_px)
    proba = model.predict_proba(clips)
    per_track = pd.DataFrame(proba, columns=[f"p_{g}" for g in GRADES]).assign(track_id=ids)
    per_track["grade_video"] = np.asarray(GRADES)[proba.argmax(axis=1)] if len(ids) else np.empty(0, dtype=object)
    out = kinematics.merge(per_track, on="track_id", how="left")
    kinematic = out["grade"]
    out["grade_combined"] = combine_grades(kinematic.to_numpy(), out[[f"p_{g}" for g in GRADES]].to_numpy())
    out["grade_disagrees"] = out["grade_video"].notna() & (out["grade_video"] != kinematic)
    combined = out["grade_combined"].dropna()
    return out, {"n": int(len(ids)), "disagreements": int(out["grade_disagrees"].sum()),
                 "percent_video": _category_percent(dict(zip(GRADES, proba.mean(axis=0) * 100))) if len(ids) else None,
                 "percent_combined": _category_percent({g: 100 * float((combined == g).mean()) for g in GRADES})
                 if len(combined) else None,
                 "model": {k: v for k, v in getattr(model, "info", {}).items() if k in ("val", "command")}
                 | {"arch": model.arch}}


def _category_percent(grades: dict) -> dict:
    """Percent per grade plus the WHO categories (progressive a + b, non-progressive c, immotile d), rounded."""
    out = {g: round(float(v), 2) for g, v in grades.items()}
    out.update(progressive=round(out["a"] + out["b"], 2), non_progressive=out["c"], immotile=out["d"])
    return out


#: Detections per frame, per VISEM-sized frame (640 x 480 px), below which a detector has likely missed the
#: sperm (VISEM-Tracking videos show 7 to over 100 sperm; an empty chamber is rare in a motility video).
MIN_DETECTIONS_PER_FRAME = 1.0
#: Share of the detections that must end up in a confirmed track before the tracking is trusted.
MIN_CONFIRMED_SHARE = 0.5


def quality_notes(detections: pd.DataFrame, tracks: pd.DataFrame, summary: dict, recording: Recording,
                  detector: str) -> list[str]:
    """Plain warnings about a result that should not be read at face value, each with its likely cause.

    - no object, or implausibly few detections for the frame size (fewer than
      :data:`MIN_DETECTIONS_PER_FRAME` per 640 x 480 px): the detector does not see this look or scale;
    - most detections never confirmed into a track (below :data:`MIN_CONFIRMED_SHARE`): detections that
      jump between frames, or noise;
    - fewer graded tracks than :data:`spermtrack.constants.MIN_GRADED_TRACKS`: percentages too uncertain.

    Returns
    -------
    list of str
        One sentence per warning (empty when nothing is suspicious).
    """
    from spermtrack.constants import MIN_GRADED_TRACKS, WHO_MIN_ASSESSED

    notes = []
    try_other = ("--polarity dark for dark heads on a light background, --polarity bright for bright heads"
                 if detector in ("blob", "trackpy") else "--detector blob")
    frames = max(int(recording.n_frames), 1)
    per_frame = len(detections) / frames
    per_visem_frame = per_frame / max(recording.width * recording.height / (640 * 480), 1e-9)
    if not len(detections):
        notes.append(f"the {detector} detector found no object in any of the {frames} frames: check that the video "
                     f"shows sperm and the detector's settings ({try_other}; --detector yolo)")
    elif per_visem_frame < MIN_DETECTIONS_PER_FRAME:
        notes.append(f"implausibly few detections: {per_frame:.2f} per frame in a {recording.width} x "
                     f"{recording.height} px video; the detector may not see this microscope's look or scale: try "
                     f"{try_other}, or --detector yolo, and check --um-per-px")
    if len(detections):
        tracked = tracks["track_id"].to_numpy() >= 0
        if "interpolated" in tracks.columns:
            tracked &= ~tracks["interpolated"].to_numpy(bool)
        share = tracked.sum() / len(detections)
        if share < MIN_CONFIRMED_SHARE:
            notes.append(f"most detections never became a track ({share:.0%} did): they may jump between frames "
                         "(check --fps and --um-per-px) or be noise (check the detector's settings)")
    graded = int((summary.get("counts") or {}).get("graded", 0))
    if len(detections) and graded < MIN_GRADED_TRACKS:
        notes.append(f"only {graded} track(s) could be graded (WHO 2021 asks for {WHO_MIN_ASSESSED} spermatozoa): "
                     "the percentages are uncertain, read them with their 95 % intervals; a longer video or more "
                     "fields give more tracks" + ("" if graded else "; no percentage can be given"))
    return notes
