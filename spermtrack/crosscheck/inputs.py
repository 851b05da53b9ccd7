"""Prepare what the motility regressors read about a video, in one streaming pass, with a cache.

:func:`prepare_inputs` turns a :class:`~spermtrack.io.visem.VisemVideo` into a
:class:`~spermtrack.regressors.VideoInputs`:

``frames``
    Grayscale, downsized to ``frame_width x frame_height`` (area averaging), exactly ``frame_step_s``
    seconds apart from the start at any frame rate, at most ``max_frames``
    (:func:`kept_frame_positions`): a time between two frames blends them linearly (a head moves less than
    a pixel of the downsized frame from one frame to the next). The models read motion in pixels per kept
    frame, so a video at 45 fps must not show it 11 % faster than one at 50 fps.
``flow``
    ``flow_pairs`` times spread evenly over the video; at each, dense Farneback optical flow at
    ``flow_scale`` of the full resolution from that frame to the frames ``flow_gap_s`` and
    ``flow_long_gap_s`` later, converted to velocity in um/s (``flow px / flow_scale * um_per_px /
    gap s``) and divided by 10. The short gap shows the head's beat and swimming; the long one (about
    half a second) the net progression, which the beat no longer hides. Eight channels, reduced to
    ``flow_size x flow_size``: averaged, the x and y velocity and the speed of the short gap, the
    :func:`presence` of cells (moving or not) and the speed of the long gap; and, as the maximum over
    each block (so that one head keeps its full value), the short and long speeds and the presence.
``kinematics`` (and the tracking path's own percentages)
    The detector + tracker + kinematics of :func:`spermtrack.pipeline.run_pipeline`.

Everything is cached per video in ``cache_dir`` under a name made of the video id, the SHA-256 of
its input and the settings that shape each part, so cross-validation folds and reruns decode nothing
twice; a cache file is written atomically and a damaged one is computed again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.errors import InputError
from spermtrack.pipeline import PipelineConfig

#: Version of the kept frames (2: exactly ``frame_step_s`` apart, :func:`kept_frame_positions`; 1 took every
#: ``round(frame_step_s * fps)``-th frame, 0.044 s apart at 45 fps).
FRAMES_VERSION = 2
#: Version of the flow images (3: the eight channels of the module notes,
#: :data:`spermtrack.regressors.base.FLOW_CHANNELS`).
FLOW_VERSION = 3

__all__ = ["InputSettings", "Prepared", "frames_and_flow", "kept_frame_positions", "prepare_inputs", "tracking_path"]


@dataclass(frozen=True)
class InputSettings(Config):
    """How videos are turned into regressor inputs (stored in every checkpoint).

    Parameters
    ----------
    frame_width, frame_height : int
        Size of the downsized frames, px.
    frame_step_s : float
        Time between kept frames, s.
    max_frames : int
        Frames kept per video (from the start).
    flow_pairs : int
        Frame pairs whose optical flow is computed.
    flow_gap_s : float
        Time between the two frames of a pair, s.
    flow_long_gap_s : float
        Time to the second, later frame of a pair, s (net progression; at least ``flow_gap_s``).
    flow_scale : float
        Resolution of the flow computation relative to the frame (0.5: half).
    flow_size : int
        Side of the flow images, px.
    stages : spermtrack.pipeline.PipelineConfig
        The tracking path: the stage config :func:`spermtrack.pipeline.run_pipeline` runs (a detector that
        reads frames).
    """

    frame_width: int = 160
    frame_height: int = 120
    frame_step_s: float = 0.04
    max_frames: int = 240
    flow_pairs: int = 8
    flow_gap_s: float = 0.1
    flow_long_gap_s: float = 0.5
    flow_scale: float = 0.5
    flow_size: int = 64
    stages: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self) -> None:
        from spermtrack.detectors import FRAME_DETECTORS

        self._integer("frame_width", lo=16, hi=4096)
        self._integer("frame_height", lo=16, hi=4096)
        self._number("frame_step_s", lo=0, lo_open=True, hi=60)
        self._integer("max_frames", lo=2, hi=100000)
        self._integer("flow_pairs", lo=1, hi=10000)
        self._number("flow_gap_s", lo=0, lo_open=True, hi=60)
        self._number("flow_long_gap_s", lo=self.flow_gap_s, hi=60)
        self._number("flow_scale", lo=0, lo_open=True, hi=1)
        self._integer("flow_size", lo=8, hi=1024)
        if not isinstance(self.stages, PipelineConfig):
            raise self._fail("stages", "a PipelineConfig")
        if self.stages.detector not in FRAME_DETECTORS:
            raise InputError(f"InputSettings.stages.detector must be one of {', '.join(FRAME_DETECTORS)} (a "
                             f"detector that reads frames), got {self.stages.detector!r}")

    @classmethod
    def from_dict(cls, values: dict):
        """Build from :meth:`to_dict`'s plain dict; also reads checkpoints of format 2, whose settings name
        ``detector``, ``tracker`` and ``preset`` beside the input settings instead of a ``stages`` dict."""
        values = dict(values)
        flat = {k: values.pop(k) for k in ("detector", "tracker", "preset") if k in values}
        stages = values.get("stages", {})
        if isinstance(stages, dict):
            values["stages"] = PipelineConfig.from_dict({**stages, **flat})
        return super().from_dict(values)

    @classmethod
    def quick(cls) -> InputSettings:
        """Small inputs for tests and ``--quick`` runs."""
        return cls(frame_width=80, frame_height=60, max_frames=24, flow_pairs=3, flow_size=32)

    def part_key(self, part: str) -> str:
        """A short fingerprint of the settings that shape ``frames``, ``flow`` or ``tracks``."""
        names = {"frames": ("frame_width", "frame_height", "frame_step_s", "max_frames"),
                 "flow": ("flow_pairs", "flow_gap_s", "flow_long_gap_s", "flow_scale", "flow_size"),
                 "tracks": ()}[part]
        from spermtrack.constants import ANALYSIS_VERSION

        values = {n: getattr(self, n) for n in names}
        if part == "tracks":  # every stage setting shapes the tracks
            values = self.stages.to_dict()
        if part == "frames":  # which frames are kept changes with the version
            values["frames_version"] = FRAMES_VERSION
        if part == "flow":  # the channels change with the version of the flow images
            values["flow_version"] = FLOW_VERSION
        if part == "tracks":  # the tracking path's defaults change between versions; pixels do not
            values["version"] = ANALYSIS_VERSION
        text = json.dumps(values, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class Prepared:
    """:func:`prepare_inputs`' result: the regressor inputs and the tracking path's percentages."""

    inputs: object
    """The :class:`~spermtrack.regressors.VideoInputs`."""
    tracking_percent: dict | None
    """The tracking path's sample summary percentages (``progressive``, ... in %), when computed."""
    seconds: dict[str, float]
    """Wall time of the two parts: ``pixels`` (frames and flow, one decoding pass) and ``kinematics``
    (the tracking path), cache reads included."""


def _where(video) -> Path:
    """The path to name in a message about a video: its file, its image folder, or its folder."""
    return video.video_path or video.images_dir or video.folder


def presence(image: np.ndarray) -> np.ndarray:
    """Where cells are, moving or not: local contrast in units of the frame's background noise.

    ``|I - G_4 * I|`` (the image minus its Gaussian blur, sigma 4 px) divided by ``1 + 1.4826 *
    median |I - G_4 * I|`` (the background's robust spread; cells are sparse, so the median is
    background). Optical flow alone cannot tell an immotile cell from the empty background.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grayscale frame.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32, >= 0.
    """
    import cv2

    f = image.astype(np.float32)
    high = np.abs(f - cv2.GaussianBlur(f, (0, 0), 4.0))
    return high / (1.0 + 1.4826 * float(np.median(high)))


def _velocity(first: np.ndarray, second: np.ndarray, um_per_px: float, seconds: float) -> np.ndarray:
    """Dense Farneback flow from ``first`` to ``second`` as velocity, ``(H, W, 2)`` in units of 10 um/s."""
    import cv2

    flow = cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return flow * (um_per_px / seconds / 10.0)


def _flow_image(velocity: np.ndarray, speed: np.ndarray, seen: np.ndarray, speed_long: np.ndarray,
                size: tuple[int, int]) -> np.ndarray:
    """The ``(FLOW_CHANNELS, h, w)`` flow image of one time (see the module notes)."""
    import cv2

    mean = np.dstack([velocity, speed, seen, speed_long]).astype(np.float32)
    peaks = np.dstack([speed, speed_long, seen]).astype(np.float32)
    # each output pixel samples the top-left source pixel of its block (INTER_NEAREST): a window anchored there
    # and one pixel longer than a block covers the block, so the sample is the block's maximum
    k = int(np.ceil(max(mean.shape[1] / size[0], mean.shape[0] / size[1]))) + 1
    peaks = cv2.dilate(peaks, np.ones((k, k), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    channels = [cv2.resize(np.ascontiguousarray(mean[:, :, c]), size, interpolation=cv2.INTER_AREA)
                for c in range(mean.shape[2])]
    channels += [cv2.resize(np.ascontiguousarray(peaks[:, :, c]), size, interpolation=cv2.INTER_NEAREST)
                 for c in range(peaks.shape[2])]
    return np.stack(channels)


def kept_frame_positions(n_kept: int, fps: float, step_s: float) -> np.ndarray:
    """Where the kept frames of the regressors fall, in frames of the video: ``k * step_s * fps``.

    Parameters
    ----------
    n_kept : int
        Kept frames.
    fps : float
        Frame rate of the video.
    step_s : float
        Time between two kept frames, s.

    Returns
    -------
    numpy.ndarray
        ``n_kept`` non-decreasing positions (rounded to 1e-6, so that 50 fps and 0.04 s give exact
        integers); position ``p`` is frame ``floor(p)`` blended with the next one by ``p - floor(p)``.
    """
    return np.round(np.arange(n_kept) * step_s * fps, 6)


def frames_and_flow(video, settings: InputSettings, want_frames: bool, want_flow: bool,
                    progress: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The downsized frames and the optical-flow images of a video, in one pass (see the module notes).

    Parameters
    ----------
    video : object
        Has ``video_id``, ``recording`` and ``iter_frames(gray=True, stop=...)`` like
        :class:`~spermtrack.io.visem.VisemVideo`.
    settings : InputSettings
    want_frames, want_flow : bool
        Which of the two to make.
    progress : bool
        Show a progress bar over the frames.

    Returns
    -------
    (numpy.ndarray or None, numpy.ndarray or None)
        ``(n, frame_height, frame_width)`` uint8 frames and ``(flow_pairs, FLOW_CHANNELS, flow_size,
        flow_size)`` float32 flow images (None where not wanted; channels in the module notes).
    """
    import cv2
    from tqdm.auto import tqdm

    rec = video.recording
    n = rec.n_frames
    positions = kept_frame_positions(settings.max_frames, rec.fps, settings.frame_step_s) if want_frames else []
    positions = [p for p in positions if p <= n - 1]
    gap = max(1, round(settings.flow_gap_s * rec.fps))
    long_gap = max(gap, round(settings.flow_long_gap_s * rec.fps))
    if want_flow and n <= long_gap:
        raise InputError(f"is too short for optical flow: {n} frames, pairs need {long_gap + 1}", _where(video))
    starts = (set(np.linspace(0, n - long_gap - 1, settings.flow_pairs).round().astype(int).tolist())
              if want_flow else set())
    short_ends, long_ends = {s + gap: s for s in starts}, {s + long_gap: s for s in starts}
    scale = settings.flow_scale
    flow_w, flow_h = max(8, round(rec.width * scale)), max(8, round(rec.height * scale))
    size = (settings.flow_size, settings.flow_size)
    frames, flows, pending, short = [], [], {}, {}
    last_needed = max([*long_ends, math.ceil(positions[-1]) if positions else -1])
    previous = None
    for i, img in tqdm(video.iter_frames(gray=True, stop=last_needed + 1), total=min(n, last_needed + 1),
                       desc=f"{video.video_id}: inputs", unit="frame", leave=False, disable=not progress):
        if len(frames) < len(positions) and positions[len(frames)] < i + 1:
            kept = cv2.resize(img, (settings.frame_width, settings.frame_height),
                              interpolation=cv2.INTER_AREA).astype(np.float32)
            # a position in (i - 1, i) blends frame i with frame i - 1, which the previous pass kept
            while len(frames) < len(positions) and positions[len(frames)] <= i:
                weight = positions[len(frames)] - (i - 1)
                blend = kept if weight >= 1 else (1 - weight) * previous + weight * kept
                frames.append(np.rint(blend).astype(np.uint8))
            previous = kept
        if i in starts or i in short_ends or i in long_ends:
            small = cv2.resize(img, (flow_w, flow_h), interpolation=cv2.INTER_AREA)
            if i in short_ends:
                first = pending[short_ends[i]]
                velocity = _velocity(first, small, rec.um_per_px / scale, gap / rec.fps)
                speed = np.sqrt((velocity ** 2).sum(axis=2))
                short[short_ends[i]] = (velocity, speed, presence(first))
            if i in long_ends:
                s = long_ends[i]
                speed_long = np.sqrt((_velocity(pending.pop(s), small, rec.um_per_px / scale,
                                                long_gap / rec.fps) ** 2).sum(axis=2))
                velocity, speed, seen = short.pop(s)
                flows.append(_flow_image(velocity, speed, seen, speed_long, size))
            if i in starts:
                pending[i] = small
    if want_frames and len(frames) < 2:
        raise InputError(f"gave {len(frames)} frame(s) for the regressors: the video is too short", _where(video))
    if want_flow and len(flows) != len(starts):
        raise InputError(f"ended before its optical-flow pairs were read ({len(flows)} of {len(starts)})",
                         _where(video))
    return (np.stack(frames) if want_frames else None,
            np.stack(flows).astype(np.float32) if want_flow else None)


def tracking_path(video, settings: InputSettings) -> tuple[pd.DataFrame, dict]:
    """The tracking path's kinematics table and its sample percentages (with ``interval_95`` and ``notes``)."""
    from spermtrack.pipeline import run_pipeline

    result = run_pipeline(video, settings.stages)
    return result.kinematics, {**result.summary["percent"], "interval_95": result.summary["interval_95"],
                               "notes": list(result.notes)}


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    from spermtrack.io.atomic import atomic_path

    with atomic_path(path) as tmp:  # the temporary name ends in .npz too, so numpy keeps it
        np.savez(tmp, **arrays)


def _load_npz(path: Path, key: str) -> np.ndarray | None:
    try:
        with np.load(path) as data:
            return data[key]
    except (OSError, ValueError, KeyError, EOFError):
        return None


def prepare_inputs(video, settings: InputSettings, needs: set[str] | frozenset[str], *,
                   cache_dir: str | os.PathLike | None = None, progress: bool = False) -> Prepared:
    """The regressor inputs of one video (see the module notes).

    Parameters
    ----------
    video : spermtrack.io.visem.VisemVideo
    settings : InputSettings
    needs : set of str
        Which of ``frames``, ``flow``, ``kinematics`` to prepare (the union of the models' needs; the
        tracking path's percentages come with ``kinematics``).
    cache_dir : str or PathLike, optional
        Folder of the cache (created); None computes everything.
    progress : bool
        Show a progress bar over the frames.

    Returns
    -------
    Prepared
    """
    from spermtrack.analysis import input_checksum
    from spermtrack.io.atomic import write_csv, write_json
    from spermtrack.regressors import VideoInputs

    unknown = set(needs) - {"frames", "flow", "kinematics"}
    if unknown:
        raise InputError(f"unknown regressor inputs: {', '.join(sorted(unknown))}")
    cache = None if cache_dir is None else Path(cache_dir)
    stem = None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        stem = f"{video.video_id}-{input_checksum(video)[:16]}"
    frames = flow = kinematics = percent = None
    start = time.perf_counter()
    if cache is not None and "frames" in needs:
        frames = _load_npz(cache / f"{stem}-frames-{settings.part_key('frames')}.npz", "frames")
    if cache is not None and "flow" in needs:
        flow = _load_npz(cache / f"{stem}-flow-{settings.part_key('flow')}.npz", "flow")
    want_frames, want_flow = "frames" in needs and frames is None, "flow" in needs and flow is None
    if want_frames or want_flow:
        new_frames, new_flow = frames_and_flow(video, settings, want_frames, want_flow, progress)
        if want_frames:
            frames = new_frames
            if cache is not None:
                _save_npz(cache / f"{stem}-frames-{settings.part_key('frames')}.npz", frames=frames)
        if want_flow:
            flow = new_flow
            if cache is not None:
                _save_npz(cache / f"{stem}-flow-{settings.part_key('flow')}.npz", flow=flow)
    seconds = {"pixels": time.perf_counter() - start}
    start = time.perf_counter()
    if "kinematics" in needs:
        table = None if cache is None else cache / f"{stem}-tracks-{settings.part_key('tracks')}.csv"
        meta = None if table is None else table.with_suffix(".json")
        if table is not None and table.is_file() and meta.is_file():
            try:
                kinematics = pd.read_csv(table)
                percent = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError, pd.errors.ParserError):
                kinematics = percent = None
        if kinematics is None:
            kinematics, percent = tracking_path(video, settings)
            if table is not None:
                write_csv(table, kinematics)
                write_json(meta, percent)
    seconds["kinematics"] = time.perf_counter() - start
    return Prepared(VideoInputs(video.video_id, frames=frames, frame_step_s=settings.frame_step_s, flow=flow,
                                kinematics=kinematics),
                    percent, seconds)
