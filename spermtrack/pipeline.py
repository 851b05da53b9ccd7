"""The pipeline: the one place where detectors, the tracker and kinematics meet.

``frames -> detections -> tracks -> kinematics + sample summary`` for one video,
plus writing everything (and a report PNG) into an output folder.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.schema import Recording


@dataclass(frozen=True)
class PipelineConfig:
    """What to run on a video.

    Parameters
    ----------
    detector : str
        ``blob`` (default), ``yolo``, or ``gt`` (the folder's ground-truth boxes).
    detector_options : dict
        Options of the detector (see :func:`spermtrack.detectors.get_detector`).
    det_noise : str, optional
        Noise spec for ``gt`` detections, e.g. ``"jitter=0.5,miss=0.1,fp=2,seed=0"``.
    tracker : str
        A tracker preset (``sperm`` default) or a peer name.
    kinematics : str
        A kinematics preset (``who2021`` default, ``casa``, ``visem``).
    """

    detector: str = "blob"
    detector_options: dict = field(default_factory=dict)
    det_noise: str | None = None
    tracker: str = "sperm"
    kinematics: str = "who2021"

    def __post_init__(self) -> None:
        from spermtrack.detectors import DETECTOR_NAMES

        if self.detector not in DETECTOR_NAMES + ("gt",):
            raise InputError(f"unknown detector {self.detector!r}; choose one of {', '.join(DETECTOR_NAMES + ('gt',))}")
        if self.det_noise and self.detector != "gt":
            raise InputError("det_noise applies to the gt detector only")

    def to_dict(self) -> dict:
        """Plain-dict form, for provenance."""
        return asdict(self)


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
    """Run the configured detector on a :class:`~spermtrack.io.visem.VisemVideo`; return the table and its config."""
    from spermtrack.detectors import DetectionNoise, get_detector, gt_detections

    rec = video.recording
    if config.detector == "gt":
        if not video.has_identities and not len(video.ground_truth):
            raise InputError("has no labels: the gt detector needs labels or labels_ftid", video.folder)
        noise = DetectionNoise.parse(config.det_noise) if config.det_noise else None
        gt = video.ground_truth
        if "track_id" not in gt.columns:
            gt = gt.assign(track_id=-1)
        dets = gt_detections(gt, noise, width=rec.width, height=rec.height, n_frames=rec.n_frames)
        return dets, {"name": "gt", "noise": None if noise is None else noise.to_dict()}
    detector = get_detector(config.detector, **config.detector_options)
    dets = detector.detect_video(video.iter_frames(), progress=progress, total=rec.n_frames)
    return dets, {"name": config.detector, **detector.to_dict()}


def run_tracker(detections: pd.DataFrame, name: str, *, fps: float, um_per_px: float) -> tuple[pd.DataFrame, dict]:
    """Run a spermtrack preset or a peer tracker; return ``(tracks, config dict)``."""
    from spermtrack.tracker import PRESETS, get_config, track
    from spermtrack.tracker.peers import PEER_PACKAGES, track_peer

    if name in PRESETS:
        config = get_config(name, fps=fps, um_per_px=um_per_px)
        return track(detections, config), {"tracker": name, **config.to_dict()}
    if name in PEER_PACKAGES:
        return track_peer(detections, name, fps=fps), {"tracker": name, "peer": True, "fps": fps}
    raise InputError(f"unknown tracker {name!r}; choose a preset ({', '.join(PRESETS)}) "
                     f"or a peer ({', '.join(PEER_PACKAGES)})")


def no_track_note(detections: pd.DataFrame, tracks: pd.DataFrame, name: str, *, fps: float,
                  um_per_px: float) -> str | None:
    """A sentence for the user when ``tracks`` holds no track although there were detections, else None."""
    from spermtrack.tracker import PRESETS, explain_no_tracks, get_config

    if name in PRESETS:
        return explain_no_tracks(detections, tracks, get_config(name, fps=fps, um_per_px=um_per_px))
    if len(detections) and not (tracks["track_id"].to_numpy() >= 0).any():
        return f"no track: the peer tracker {name} kept none of the {len(detections)} detections"
    return None


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
    tracks, trk_cfg = run_tracker(dets, config.tracker, fps=rec.fps, um_per_px=rec.um_per_px)
    note = no_track_note(dets, tracks, config.tracker, fps=rec.fps, um_per_px=rec.um_per_px)
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

    from spermtrack.io.atomic import atomic_path, write_json
    from spermtrack.io.mot import write_mot
    from spermtrack.io.tables import write_table
    from spermtrack.io.tables import write_kinematics
    from spermtrack.provenance import provenance
    from spermtrack.report import report_image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_table(out / "detections.csv", analysis.detections),
               write_table(out / "tracks.csv", analysis.tracks),
               write_mot(out / "tracks_mot.txt", analysis.tracks[analysis.tracks["track_id"] >= 0])]
    summary = dict(analysis.summary)
    summary["provenance"] = provenance(pipeline=pipeline.to_dict(), detector=analysis.detector_config,
                                       tracker=analysis.tracker_config, recording=analysis.recording.to_dict())
    written += write_kinematics(out, analysis.kinematics, summary)
    if frame is not None:
        idx = pick_report_frame(analysis.tracks, analysis.recording.n_frames) if frame_index is None else frame_index
        img = report_image(frame, analysis.tracks, idx, analysis.summary, kinematics=analysis.kinematics,
                           title=f"video {analysis.video_id}, frame {idx}")
        with atomic_path(out / "report.png") as tmp:
            if not cv2.imwrite(str(tmp), img):
                raise InputError("OpenCV could not write the report image", out / "report.png")
        written.append(out / "report.png")
    return written


def read_frame(video, index: int) -> np.ndarray:
    """Return frame ``index`` of a video (decodes up to it; for the report only)."""
    for i, img in video.iter_frames(start=index, stop=index + 1):
        if i == index:
            return img
    raise InputError(f"has no frame {index}", video.folder)
