"""The pipeline: the one place where detectors, the tracker and kinematics meet.

``frames -> detections -> tracks -> kinematics + sample summary`` for one video,
plus writing everything (and a report PNG) into an output folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
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


def detect(video, config: PipelineConfig, *, progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Run the configured detector on a :class:`~spermtrack.io.visem.VisemVideo`; return the table and its settings.

    Frame detectors read the video's frames; the ``gt`` detector reads its labelled boxes.
    """
    from spermtrack.detectors import make_detector

    detector = make_detector(config.detector, **config.detector_options)
    rec = video.recording
    if detector.needs_frames:
        dets = detector.detect_video(video.iter_frames(), progress=progress, total=rec.n_frames)
    else:
        if not video.has_identities and not len(video.ground_truth):
            raise InputError("has no labels: the gt detector needs labels or labels_ftid", video.folder)
        dets = detector.detect_truth(video.ground_truth, width=rec.width, height=rec.height, n_frames=rec.n_frames)
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


def analyse_video(video, config: PipelineConfig | None = None, *, progress: bool = False) -> Analysis:
    """Detect, track and grade one video.

    Parameters
    ----------
    video : spermtrack.io.visem.VisemVideo
        The video (frames, recording, optional labels).
    config : PipelineConfig, optional
        What to run; default blob -> sperm -> who2021.
    progress : bool
        Show a progress bar over frames.

    Returns
    -------
    Analysis
    """
    from spermtrack.kinematics import analyze_tracks, get_preset, summarize

    config = config or PipelineConfig()
    rec = video.recording
    dets, det_cfg = detect(video, config, progress=progress)
    tracks, trk_cfg, note = run_tracker(dets, config.tracker, fps=rec.fps, um_per_px=rec.um_per_px,
                                        **config.tracker_options)
    sperm = tracks[tracks["class_id"] == 0]
    result = analyze_tracks(sperm, rec.um_per_px, rec.fps, get_preset(config.kinematics))
    summary = summarize(result, n_frames=rec.n_frames, frame_size_px=(rec.width, rec.height),
                        extra={"video": video.video_id, "source": rec.source})
    return Analysis(video_id=video.video_id, recording=rec, detections=dets, tracks=tracks,
                    kinematics=result.table, summary=summary, tracker_config=trk_cfg, detector_config=det_cfg,
                    notes=[] if note is None else [note])


def pick_report_frame(tracks: pd.DataFrame, n_frames: int) -> int:
    """The frame shown in the report: the middle one, so trails have history behind them."""
    if n_frames <= 0:
        return 0
    return int(n_frames // 2)


def write_analysis(out_dir: str | os.PathLike, analysis: Analysis, *, pipeline: PipelineConfig,
                   frame: np.ndarray | None = None, frame_index: int | None = None) -> list[Path]:
    """Write the tables, the summary (with provenance) and, given a frame, the report PNG.

    Files: ``detections.csv``, ``tracks.csv``, ``tracks_mot.txt``, ``kinematics.csv``,
    ``summary.json`` (sample summary + pipeline config + versions) and ``report.png``.
    """
    import cv2

    from spermtrack.io.atomic import output_folder
    from spermtrack.io.mot import write_mot
    from spermtrack.io.tables import write_kinematics, write_table
    from spermtrack.provenance import provenance
    from spermtrack.report import report_image

    with output_folder(out_dir) as out:
        written = [write_table(out / "detections.csv", analysis.detections),
                   write_table(out / "tracks.csv", analysis.tracks),
                   write_mot(out / "tracks_mot.txt", analysis.tracks[analysis.tracks["track_id"] >= 0])]
        summary = dict(analysis.summary)
        summary["provenance"] = provenance(pipeline=pipeline.to_dict(), detector=analysis.detector_config,
                                           tracker=analysis.tracker_config, recording=analysis.recording.to_dict())
        written += write_kinematics(out, analysis.kinematics, summary)
        if frame is not None:
            idx = pick_report_frame(analysis.tracks, analysis.recording.n_frames) if frame_index is None \
                else frame_index
            img = report_image(frame, analysis.tracks, idx, analysis.summary, kinematics=analysis.kinematics,
                               title=f"video {analysis.video_id}, frame {idx}")
            ok, png = cv2.imencode(".png", img)
            if not ok:
                raise InputError("OpenCV could not encode the report image", Path(out_dir) / "report.png")
            (out / "report.png").write_bytes(png.tobytes())
            written.append(out / "report.png")
    return [Path(out_dir) / p.name for p in written]


def read_frame(video, index: int) -> np.ndarray:
    """Return frame ``index`` of a video (decodes up to it; for the report only)."""
    for i, img in video.iter_frames(start=index, stop=index + 1):
        if i == index:
            return img
    raise InputError(f"has no frame {index}", video.folder)
