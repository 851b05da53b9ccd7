"""The analysis product: one video in, every result of spermtrack out.

``frames -> detections -> tracks -> kinematics and WHO grades`` (:func:`analyze`), then
:meth:`VideoAnalysis.write` puts into one output folder, written as a unit:

=====================  ========================================================================
``tracks.csv``         per-sperm trajectories: measured and smoothed positions (the data contract)
``tracks.parquet``     the same table in Parquet
``tracks_mot.txt``     the same tracks in MOTChallenge format
``kinematics.csv``     one row per track: VCL ... MAD and the WHO 2021 grade
``summary.json``       sample-level grades and means, settings, versions, input checksum, timings
``annotated.mp4``      the video with boxes, ids and trailing paths coloured by grade, a legend, time
``*.png``              trajectory map, VCL-LIN scatter, kinematic histograms, grade bars, a still
``report.html``        one self-contained page with all of the above and how to read it
=====================  ========================================================================

Frames are streamed twice (detection, then the annotated video): memory does not grow with the
length of the video. Everything is computed through the stage registries
(:func:`spermtrack.detectors.make_detector`, :func:`spermtrack.tracker.make_tracker`) and the pipeline.

Python::

    import spermtrack
    result = spermtrack.analyze("sample.mp4", um_per_px=0.351)
    print(result.summary["percent"])
    result.write("sample_results")
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.detectors import DEFAULT_DETECTOR
from spermtrack.errors import InputError
from spermtrack.extras import file_sha256
from spermtrack.kinematics.config import DEFAULT_PRESET
from spermtrack.pipeline import PipelineConfig
from spermtrack.tracker.registry import DEFAULT_TRACKER

__all__ = ["AnalyzeConfig", "VideoAnalysis", "analyze", "analyze_video", "input_checksum", "write_annotated_video"]

#: Files :meth:`VideoAnalysis.write` puts into the output folder (``annotated.mp4`` only when asked).
OUTPUT_FILES = ("report.html", "annotated.mp4", "tracks.csv", "tracks.parquet", "tracks_mot.txt", "kinematics.csv",
                "summary.json", "grades.png", "trajectories.png", "vcl_lin.png", "histograms.png", "frame.png")


@dataclass(frozen=True)
class AnalyzeConfig(Config):
    """What :func:`analyze` runs and writes.

    Parameters
    ----------
    um_per_px : float
        Pixel size of the recording, um (required: calibration is never guessed; VISEM-Tracking 0.351).
    fps : float or None
        Frame rate; ``None`` reads it from the video container (an image folder needs it).
    stages : spermtrack.pipeline.PipelineConfig
        The stage choice: detector (one that reads frames: ``blob`` default, ``yolo``, ``trackpy``) and
        its options, tracker, kinematics preset, per-sperm model.
    annotate : bool
        Write ``annotated.mp4``.
    trail_frames : int
        Length of the trailing path drawn behind each head, frames.
    allow_truncated : bool
        Use the frames of a video that ends before its container says (with a warning).
    """

    um_per_px: float
    fps: float | None = None
    stages: PipelineConfig = field(default_factory=PipelineConfig)
    annotate: bool = True
    trail_frames: int = 25
    allow_truncated: bool = False

    def __post_init__(self) -> None:
        from spermtrack._validate import physical
        from spermtrack.detectors import FRAME_DETECTORS

        if self.fps is not None:  # None: read from the container
            physical("AnalyzeConfig", "fps", self.fps)
        physical("AnalyzeConfig", "um_per_px", self.um_per_px)
        self._number("um_per_px")
        self._optional_number("fps")
        if not isinstance(self.stages, PipelineConfig):
            raise self._fail("stages", "a PipelineConfig")
        if self.stages.detector not in FRAME_DETECTORS:
            raise InputError(f"AnalyzeConfig.stages.detector must be one of {', '.join(FRAME_DETECTORS)} (a "
                             f"detector that reads frames), got {self.stages.detector!r}")
        self._boolean("annotate")
        self._integer("trail_frames", lo=1, hi=10000)
        self._boolean("allow_truncated")

    @classmethod
    def from_dict(cls, values: dict):
        """Build from :meth:`to_dict`'s plain dict (``stages`` as a dict)."""
        values = dict(values)
        if isinstance(values.get("stages"), dict):
            values["stages"] = PipelineConfig.from_dict(values["stages"])
        return super().from_dict(values)

    def key(self, checksum: str) -> str:
        """A fingerprint of these settings and one input: equal keys give equal results."""
        from spermtrack.constants import ANALYSIS_VERSION

        text = json.dumps({"config": {k: v for k, v in self.to_dict().items() if k != "allow_truncated"},
                           "input": checksum, "version": ANALYSIS_VERSION}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def input_checksum(video) -> str:
    """SHA-256 of the input's bytes: the video file, or every frame image in order."""
    files = [video.video_path] if video.video_path is not None else sorted(
        p for p in video.images_dir.iterdir() if p.is_file())
    return file_sha256(*files)


@dataclass
class VideoAnalysis:
    """Everything :func:`analyze` found in one video; :meth:`write` puts it into a folder.

    Attributes
    ----------
    video_id : str
    video : spermtrack.io.visem.VisemVideo
        The input (frames are read again for the annotated video).
    config : AnalyzeConfig
    detections, tracks, kinematics : pandas.DataFrame
        The contract tables.
    summary : dict
        Sample-level grades, counts, means, noise and drift (:func:`spermtrack.kinematics.summarize`).
    checksum : str
        SHA-256 of the input.
    settings : dict
        Detector and tracker settings as run, for provenance.
    notes : list of str
        What the user should know (e.g. why there is no track).
    timings : dict
        Seconds per stage: ``decode``, ``detect``, ``track``, ``kinematics`` (and ``annotate`` after
        :meth:`write`).
    """

    video_id: str
    video: object
    config: AnalyzeConfig
    detections: pd.DataFrame
    tracks: pd.DataFrame
    kinematics: pd.DataFrame
    summary: dict
    checksum: str
    settings: dict
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def recording(self):
        """Calibration, size and length of the video."""
        return self.video.recording

    def one_line(self) -> str:
        """The result in one line: grades and counts."""
        pct, counts = self.summary["percent"], self.summary["counts"]
        ci = self.summary.get("interval_95") or {}

        def fmt(key: str) -> str:
            if pct.get(key) is None:
                return "n/a"
            low_high = ci.get(key)
            return f"{pct[key]:.1f} %" + (f" [{low_high[0]:.0f}-{low_high[1]:.0f}]" if low_high else "")

        return (f"{self.video_id}: progressive {fmt('progressive')}, non-progressive {fmt('non_progressive')}, "
                f"immotile {fmt('immotile')} ({counts['graded']} graded tracks; 95 % intervals in brackets)")

    def summary_record(self) -> dict:
        """``summary.json``: the sample summary with settings, versions, the input checksum and timings."""
        from spermtrack.provenance import provenance

        return {**self.summary, "video": self.video_id, "input": str(self.video.recording.source),
                "input_sha256": self.checksum, "analysis_key": self.config.key(self.checksum),
                "look": (self.settings.get("detector") or {}).get("look"),
                "notes": list(self.notes), "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "provenance": provenance(analysis=self.config.to_dict(), recording=self.recording.to_dict(),
                                         **self.settings)}

    def write(self, out_dir: str | os.PathLike, *, progress: bool = False,
              extra_files: dict[str, str] | None = None) -> Path:
        """Write every output (see the module docstring) into ``out_dir`` as a unit.

        Parameters
        ----------
        out_dir : str or PathLike
            New, empty, or an earlier spermtrack output (replaced only when everything is written).
        progress : bool
            Show a progress bar while the annotated video is written.
        extra_files : dict, optional
            More text files to put beside the others (name -> content).

        Returns
        -------
        pathlib.Path
            ``out_dir``.
        """
        import concurrent.futures
        import threading

        from spermtrack import plots
        from spermtrack.html import video_report_html
        from spermtrack.io.atomic import output_folder, write_text
        from spermtrack.io.mot import write_mot
        from spermtrack.io.tables import write_kinematics, write_table

        rec = self.recording
        middle = rec.n_frames // 2
        still: dict[int, np.ndarray] = {}
        cancel = threading.Event()
        inputs = [p for p in (rec.source, self.video.video_path, self.video.images_dir) if p]
        with output_folder(out_dir, inputs=inputs) as out, \
                concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            try:
                # the annotated video (decode, draw, encode: OpenCV, mostly outside the interpreter lock)
                # is written while this thread makes the tables and plots (matplotlib, inside it)
                video = pool.submit(write_annotated_video, out / "annotated.mp4", self.video, self.tracks,
                                    self.kinematics, trail=self.config.trail_frames, timings=self.timings,
                                    progress=progress, keep={middle: still}, cancel=cancel) \
                    if self.config.annotate else None
                write_table(out / "tracks.csv", self.tracks)
                self.tracks.to_parquet(out / "tracks.parquet", index=False)
                write_mot(out / "tracks_mot.txt", self.tracks[self.tracks["track_id"] >= 0])
                images = {
                    "Grades": plots.grade_bars(self.summary, title=f"{self.video_id}: WHO 2021 motility"),
                    "Annotated frame (middle of the video)": b"",
                    "Trajectories": plots.trajectory_map(self.tracks, self.kinematics, width=rec.width,
                                                         height=rec.height, um_per_px=rec.um_per_px),
                    "VCL against LIN": plots.vcl_lin_scatter(self.kinematics),
                    "Kinematic histograms": plots.kinematic_histograms(self.kinematics),
                }
                if video is not None:
                    video.result()
            except BaseException:
                cancel.set()
                raise
            images["Annotated frame (middle of the video)"] = self._still(still.get(middle), middle)
            record = self.summary_record()
            write_kinematics(out, self.kinematics, record)
            names = {"Grades": "grades.png", "Annotated frame (middle of the video)": "frame.png",
                     "Trajectories": "trajectories.png", "VCL against LIN": "vcl_lin.png",
                     "Kinematic histograms": "histograms.png"}
            for caption, png in images.items():
                (out / names[caption]).write_bytes(png)
            for name, text in (extra_files or {}).items():
                write_text(out / name, text)
            files = [f for f in OUTPUT_FILES if (out / f).exists() and f != "report.html"]
            files += sorted(extra_files or {})
            write_text(out / "report.html", video_report_html(
                video_id=self.video_id, source=str(rec.source), summary=record, images=images,
                settings=record["provenance"], files=files, notes=self.notes))
        return Path(out_dir)

    def _still(self, frame: np.ndarray | None, index: int) -> bytes:
        """PNG of frame ``index`` (read again when not given) with the tracks drawn, twice the size."""
        import cv2

        from spermtrack.drawing import TrackPainter, disagreeing_tracks, track_grades

        if frame is None:
            frame = next((img for i, img in self.video.iter_frames(start=index, stop=index + 1)), None)
        if frame is None:
            frame = np.zeros((self.recording.height, self.recording.width, 3), np.uint8)
        img = TrackPainter(self.tracks, track_grades(self.kinematics), fps=self.recording.fps,
                           flagged=disagreeing_tracks(self.kinematics),
                           trail=self.config.trail_frames).draw(frame, index, scale=2)
        ok, png = cv2.imencode(".png", img)
        if not ok:
            raise InputError("OpenCV could not encode the annotated frame")
        return png.tobytes()


def write_annotated_video(path: str | os.PathLike, video, tracks: pd.DataFrame, kinematics: pd.DataFrame, *,
                          trail: int = 25, timings: dict | None = None, progress: bool = False,
                          keep: dict | None = None, cancel=None) -> Path:
    """Stream the video once more and write it with the tracks drawn (:class:`spermtrack.drawing.TrackPainter`).

    Parameters
    ----------
    path : str or PathLike
        The ``.mp4`` to write (atomically; H.264 at the video's frame rate, playable in browsers).
    video : spermtrack.io.visem.VisemVideo
        The input.
    tracks, kinematics : pandas.DataFrame
        Its tracks and their kinematics (for the grade colours).
    trail : int
        Frames of trailing path.
    timings : dict, optional
        The seconds of this pass (decoding again, drawing, encoding) are added under ``annotate``.
    progress : bool
        Show a progress bar.
    keep : dict, optional
        ``{frame index: dict}``: a copy of that raw frame is stored in the dict under its index
        (the report's still, without decoding the video a third time).
    cancel : threading.Event, optional
        Stop (with :class:`InterruptedError`) when it is set.
    """
    from spermtrack.io.video import read_ahead, write_video
    from spermtrack.drawing import TrackPainter, disagreeing_tracks, track_grades

    timings = {} if timings is None else timings
    rec = video.recording
    painter = TrackPainter(tracks, track_grades(kinematics), fps=rec.fps, trail=trail,
                           flagged=disagreeing_tracks(kinematics))
    frames = video.iter_frames()
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, total=rec.n_frames, unit="frame", desc="annotated video", leave=False)
    start = time.perf_counter()
    keep = keep or {}

    def drawn():
        for i, img in frames:
            if cancel is not None and cancel.is_set():
                raise InterruptedError("the annotated video was cancelled")
            if i in keep:
                keep[i][i] = img.copy()
            yield painter.draw(img, i)

    # decoding and drawing run one step ahead in a thread while the encoder works on another core
    write_video(path, read_ahead(drawn()), rec.fps)
    timings["annotate"] = timings.get("annotate", 0.0) + time.perf_counter() - start
    return Path(path)


def analyze_video(video, config: AnalyzeConfig, *, progress: bool = True,
                  checksum: str | None = None) -> VideoAnalysis:
    """Detect, track and grade one opened video (:func:`spermtrack.pipeline.run_pipeline`; see :func:`analyze`).

    ``checksum`` is the input's :func:`input_checksum` when the caller has it already (it is not read twice).
    """
    from spermtrack.pipeline import run_pipeline

    timings: dict[str, float] = {}
    checksum = checksum or input_checksum(video)
    result = run_pipeline(video, config.stages, progress=progress, timings=timings)
    return VideoAnalysis(video_id=video.video_id, video=video, config=config, detections=result.detections,
                         tracks=result.tracks, kinematics=result.kinematics, summary=result.summary,
                         checksum=checksum,
                         settings={"detector": result.detector_config, "tracker": result.tracker_config},
                         notes=list(result.notes), timings=timings)


def analyze(path: str | os.PathLike, *, um_per_px: float, fps: float | None = None,
            detector: str = DEFAULT_DETECTOR, weights: str | os.PathLike | None = None, tracker: str = DEFAULT_TRACKER,
            preset: str = DEFAULT_PRESET, annotate: bool = True, allow_truncated: bool = False,
            progress: bool = True, **detector_options) -> VideoAnalysis:
    """Analyse one video: detections, tracks, CASA kinematics and WHO 2021 grades.

    Parameters
    ----------
    path : str or PathLike
        A video file (mp4, avi, ...), a VISEM-Tracking video folder, or a folder of frame images.
    um_per_px : float
        Pixel size, um (required: it is never guessed; VISEM-Tracking: 0.351).
    fps : float, optional
        Frame rate; read from the container when not given.
    detector : str
        ``blob`` (default), ``yolo`` or ``trackpy``.
    weights : str or PathLike, optional
        ``yolo``: a checkpoint (default: the shipped one).
    tracker : str
        A tracker name (``sperm`` default).
    preset : str
        Grading preset: ``who2021`` (default), ``casa`` or ``visem``.
    annotate : bool
        Write ``annotated.mp4`` in :meth:`VideoAnalysis.write`.
    allow_truncated : bool
        Use what can be read of a truncated video (with a warning) instead of stopping.
    progress : bool
        Show a progress bar.
    **detector_options
        More options of the detector (e.g. ``polarity="dark"`` for ``blob``).

    Returns
    -------
    VideoAnalysis
        ``.tracks``, ``.kinematics``, ``.summary``; ``.write(out_dir)`` writes every output.

    Raises
    ------
    InputError
        The input cannot be read, a calibration or option is invalid.
    """
    from spermtrack.io.inputs import open_video

    options = dict(detector_options)
    if weights is not None:
        options["weights"] = str(weights)
    stages = PipelineConfig(detector=detector, detector_options=options, tracker=tracker, preset=preset)
    config = AnalyzeConfig(um_per_px=um_per_px, fps=fps, stages=stages, annotate=annotate,
                           allow_truncated=allow_truncated)
    video = open_video(path, um_per_px=um_per_px, fps=fps, allow_truncated=allow_truncated)
    return analyze_video(video, config, progress=progress)
