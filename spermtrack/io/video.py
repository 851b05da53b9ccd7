"""Frames in and out: streaming readers for video files and image folders, and a video writer.

Readers yield one frame at a time, so memory does not grow with video length.
Frames are ``uint8`` arrays, BGR ``(H, W, 3)`` as OpenCV decodes them. The writer,
:func:`write_video`, lives in :mod:`spermtrack.io.video_writer` and is re-exported here.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from spermtrack.errors import InputError
from spermtrack.io._opencv import _cv2, _openable
from spermtrack.io.video_writer import write_video  # re-exported: callers import it from here

#: Suffixes of the video files spermtrack reads (anything OpenCV's FFmpeg decodes; the rate of mp4, mov, m4v,
#: 3gp and avi is read from the container itself, see :func:`probe_video`).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv", ".webm", ".mpg", ".mpeg", ".ts", ".mts",
                  ".m2ts", ".flv", ".3gp", ".ogv")
#: Frames a video may fall short of its container's count without being called truncated (some encoders
#: announce one frame more than they store).
TRUNCATION_TOLERANCE = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class VideoInfo:
    """What a video container says about itself.

    Attributes
    ----------
    fps : float
        Frame rate stated by the container: the average rate between frames; 0 when the container
        states no rate (see :func:`probe_video`).
    width, height : int
        Frame size in px.
    n_frames : int
        Frame count stored in the container (may be approximate for some codecs).
    variable_rate : bool
        The container states frame intervals that differ by more than rounding (a variable frame
        rate); ``fps`` is then their average and ``fps_min``/``fps_max`` their range.
    fps_min, fps_max : float
        The slowest and fastest rate between two consecutive frames (``fps`` for a constant rate,
        0 when the rate is unknown).
    """

    fps: float
    width: int
    height: int
    n_frames: int
    variable_rate: bool = False
    fps_min: float = 0.0
    fps_max: float = 0.0


def read_image(path: str | os.PathLike, *, gray: bool = False, allow_truncated: bool = False) -> np.ndarray:
    """Decode one image file (any file name, including names that are not valid UTF-8).

    Parameters
    ----------
    path : str or PathLike
        A JPEG, PNG, BMP or TIFF file.
    gray : bool
        Return ``(H, W)`` grayscale instead of BGR ``(H, W, 3)``.
    allow_truncated : bool
        Decode a JPEG that lacks its end-of-image marker (the missing part comes out grey), with a
        warning; by default such a file is an error.

    Raises
    ------
    InputError
        The file cannot be read or decoded, or is a truncated JPEG.
    """
    cv2 = _cv2()
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror or exc}", path) from None
    jpeg = data[:2].tobytes() == b"\xff\xd8"
    if jpeg and not data[-2:].tobytes() == b"\xff\xd9":
        message = "is a truncated JPEG (it lacks its end-of-image marker)"
        if not allow_truncated:
            raise InputError(f"{message}: re-export the frame, or allow truncated input", path)
        warnings.warn(f"{path}: {message}; decoding what is there", UserWarning, stacklevel=2)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise InputError("cannot be decoded as an image", path)
    return img


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read fps, frame size and frame count from a video file's container.

    The frame rate of an MP4/MOV (its video track's time scale and sample durations) or AVI (its
    stream rate) is read from the container itself (:mod:`spermtrack.io.container`): where that
    states no rate (a rate, time scale or frame interval of 0), ``fps`` is 0, never the 25 fps
    FFmpeg falls back to; a variable rate is flagged (``variable_rate``, ``fps_min``, ``fps_max``).
    For other containers (mkv, webm, ...) the rate is OpenCV's figure. Use :func:`frame_rate` to
    turn this into the rate of a recording.

    Parameters
    ----------
    path : str or PathLike
        A video file (mp4, avi, ...).

    Returns
    -------
    VideoInfo

    Raises
    ------
    InputError
        The file does not exist or cannot be decoded.
    """
    from spermtrack.io.container import read_timing

    cv2 = _cv2()
    path = Path(path)
    if not path.exists():
        raise InputError("video file does not exist", path)
    if not path.is_file():
        raise InputError("is not a video file (it is a folder)", path)
    with _openable(path) as name:
        info = _probe(cv2, name, path)
    timing = read_timing(path)
    if timing is None:
        return info
    return replace(info, fps=timing.fps, variable_rate=timing.variable, fps_min=timing.fps_min,
                   fps_max=timing.fps_max)


def _probe(cv2, name: str, path: Path) -> VideoInfo:
    cap = cv2.VideoCapture(name)
    try:
        if not cap.isOpened():
            raise InputError("cannot be decoded as a video", path)
        ok, frame = cap.read()
        if not ok:
            raise InputError("cannot be decoded as a video (no frame could be read)", path)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(fps) or fps < 0:
            fps = 0.0
        count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
        n = int(count) if math.isfinite(count) and count > 0 else 0
        return VideoInfo(fps=fps, width=int(frame.shape[1]), height=int(frame.shape[0]), n_frames=n,
                         fps_min=fps, fps_max=fps)
    finally:
        cap.release()


def frame_rate(path: str | os.PathLike, info: VideoInfo, fps: float | None = None) -> float:
    """The frame rate of a recording: the one given, else the one its container states.

    This is spermtrack's one frame-rate policy for video files: a rate the container does not state
    is asked for, never guessed, and a variable rate is used at its average with a warning.

    Parameters
    ----------
    path : str or PathLike
        The video file (named in the error and the warning).
    info : VideoInfo
        What :func:`probe_video` read from it.
    fps : float, optional
        The rate given by the user; it wins over the container's.

    Returns
    -------
    float
        Frames per second.

    Raises
    ------
    InputError
        No ``fps`` was given and the container states no frame rate.

    Warns
    -----
    UserWarning
        No ``fps`` was given and the container states a variable frame rate: its average is used.
    """
    if fps is not None:
        return fps
    if not info.fps > 0:
        raise InputError("the video container stores no frame rate: give it (--fps on the command line, fps= in "
                         "Python; frames per second)", path)
    if info.variable_rate:
        warnings.warn(f"{path}: the video has a variable frame rate ({info.fps_min:.4g} to {info.fps_max:.4g} fps "
                      f"between frames); its average {info.fps:.4g} fps is used: give the true rate with --fps "
                      "(fps= in Python) if the camera recorded at a fixed rate", UserWarning, stacklevel=2)
    return info.fps


def frame_number(path: str | os.PathLike) -> int:
    """Return the last integer in a file's stem: ``11_frame_42.jpg`` -> 42.

    Raises
    ------
    InputError
        The name holds no number.
    """
    stem = Path(path).stem.removesuffix("_with_ftid")
    m = _FRAME_NUMBER.search(stem)
    if m is None:
        raise InputError("file name holds no frame number", path)
    return int(m.group(1))


def list_images(folder: str | os.PathLike) -> list[Path]:
    """List the image files of a folder in frame order (by the number in the name).

    Raises
    ------
    InputError
        The folder does not exist or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("image folder does not exist", folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise InputError("folder holds no image files", folder)
    files = sorted(files, key=lambda p: (frame_number(p), p.name))
    for a, b in zip(files, files[1:]):
        if frame_number(a) == frame_number(b):
            raise InputError(f"two images hold frame number {frame_number(a)}: {a.name} and {b.name}", folder)
    return files


def iter_frames(source: str | os.PathLike, *, start: int = 0, stop: int | None = None,
                gray: bool = False, allow_truncated: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Stream ``(frame_index, image)`` from a video file or an image folder.

    The source is checked when this function is called (not at the first
    ``next()``), then frames are decoded one at a time: memory does not grow
    with the length of the video.

    Parameters
    ----------
    source : str or PathLike
        A video file, or a folder of images named with a frame number
        (VISEM-Tracking ``images/<id>_frame_<n>.jpg``; the number is the index).
    start, stop : int
        Half-open range of 0-based frame indices to yield.
    gray : bool
        Yield ``(H, W)`` grayscale instead of BGR.
    allow_truncated : bool
        Use what can be decoded of a video that ends before the frame count its container announces
        (a copy cut short, its index intact) or of a truncated JPEG, with a warning. By default either
        is an :class:`InputError` that names both numbers, raised when the stream reaches the end.

    Yields
    ------
    (int, numpy.ndarray)
        The 0-based frame index and the frame (uint8).

    Raises
    ------
    InputError
        The source does not exist or cannot be decoded, or ``start``/``stop``
        is negative.
    """
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise InputError(f"start must be a non-negative frame index, got {start!r}")
    if stop is not None and (isinstance(stop, bool) or not isinstance(stop, (int, np.integer)) or stop < 0):
        raise InputError(f"stop must be a non-negative frame index or None, got {stop!r}")
    source = Path(source)
    if not source.exists():
        raise InputError("does not exist (expected a video file or a folder of images)", source)
    if source.is_dir():
        return _iter_images(list_images(source), int(start), stop, gray, allow_truncated)
    info = probe_video(source)
    return _iter_video(source, int(start), stop, gray, info.n_frames, allow_truncated)


def _iter_images(paths: list[Path], start: int, stop: int | None, gray: bool,
                 allow_truncated: bool) -> Iterator[tuple[int, np.ndarray]]:
    for path in paths:
        idx = frame_number(path)
        if idx < start:
            continue
        if stop is not None and idx >= stop:
            break
        yield idx, read_image(path, gray=gray, allow_truncated=allow_truncated)


def _iter_video(path: Path, start: int, stop: int | None, gray: bool, announced: int,
                allow_truncated: bool) -> Iterator[tuple[int, np.ndarray]]:
    cv2 = _cv2()
    with _openable(path) as name:
        cap = cv2.VideoCapture(name)
        try:
            # Decode and drop the frames before ``start`` instead of seeking: seeking
            # lands on key frames with some codecs, and an index must mean one frame.
            idx = 0
            ended = False
            while idx < start and not ended:
                ended = not cap.grab()
                idx += 0 if ended else 1
            while not ended and (stop is None or idx < stop):
                ok, frame = cap.read()
                if not ok:
                    ended = True
                    break
                yield idx, (cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if gray else frame)
                idx += 1
        finally:
            cap.release()
    wanted = announced if stop is None else min(stop, announced)
    if ended and idx < wanted - TRUNCATION_TOLERANCE:
        message = (f"the video ends after {idx} of the {announced} frames its container announces "
                   "(a truncated copy?)")
        if not allow_truncated:
            raise InputError(f"{message}: repair or re-copy it, or allow truncated input (--allow-truncated) to "
                             f"use the {idx} frames", path)
        warnings.warn(f"{path}: {message}; using the {idx} frames that could be decoded", UserWarning,
                      stacklevel=2)


def read_ahead(items: Iterable, depth: int = 8) -> Iterator:
    """Yield ``items``, produced in a background thread up to ``depth`` items ahead.

    Decoding and drawing (producer) then overlap with encoding (consumer) on another core; OpenCV
    releases the interpreter lock in both. An exception in the producer is raised in the consumer;
    when the consumer stops early, the producer stops at its next item.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # handed to the consumer
            q.put((end, exc))

    thread = threading.Thread(target=produce, name="spermtrack-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = q.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
