"""Frames in and out: streaming readers for video files and image folders, and a video writer.

Readers yield one frame at a time, so memory does not grow with video length.
Frames are ``uint8`` arrays, BGR ``(H, W, 3)`` as OpenCV decodes them.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spermtrack.errors import InputError
from spermtrack.io.atomic import atomic_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv")
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
        Frame rate stored in the container (0 when it stores none).
    width, height : int
        Frame size in px.
    n_frames : int
        Frame count stored in the container (may be approximate for some codecs).
    """

    fps: float
    width: int
    height: int
    n_frames: int


def _cv2():
    import cv2

    return cv2


@contextlib.contextmanager
def _openable(path: Path) -> Iterator[str]:
    """A path string OpenCV's video reader can open.

    OpenCV takes paths as UTF-8 and crashes (a segmentation fault) on a name that is not valid
    UTF-8; such a file is opened through a temporary symbolic link with a plain name.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="spermtrack-") as tmp:
            link = Path(tmp) / f"video{path.suffix.encode('ascii', 'ignore').decode() or '.mp4'}"
            os.symlink(os.fsencode(path.resolve()), os.fsencode(link))
            yield str(link)
        return
    yield str(path)


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
    cv2 = _cv2()
    path = Path(path)
    if not path.exists():
        raise InputError("video file does not exist", path)
    if not path.is_file():
        raise InputError("is not a video file (it is a folder)", path)
    with _openable(path) as name:
        return _probe(cv2, name, path)


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
        return VideoInfo(fps=fps, width=int(frame.shape[1]), height=int(frame.shape[0]), n_frames=n)
    finally:
        cap.release()


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


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float) -> int:
    """Encode frames to a video file atomically (MPEG-4 Part 2, ``mp4v``).

    Parameters
    ----------
    path : str or PathLike
        Target ``.mp4`` or ``.avi`` file; nothing appears there unless all frames were written.
    frames : iterable of numpy.ndarray
        uint8 frames, all the same size, grayscale ``(H, W)`` or BGR ``(H, W, 3)``.
    fps : float
        Frame rate stored in the container.

    Returns
    -------
    int
        Number of frames written.

    Raises
    ------
    InputError
        ``fps`` is not positive, there are no frames, a frame is not uint8
        ``(H, W)``/``(H, W, 3)``, or its size differs from the first frame's
        (OpenCV would silently drop it). The target is left untouched.
    """
    cv2 = _cv2()
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) \
            or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"fps must be a positive number, got {fps!r}", path)
    writer = None
    size = None
    n = 0
    with atomic_path(path) as tmp:
        try:
            for frame in frames:
                frame = np.asarray(frame)
                if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
                    raise InputError(f"frame {n} must be a uint8 (H, W) or (H, W, 3) array, "
                                     f"got {frame.dtype} {frame.shape}", path)
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                if writer is None:
                    size = frame.shape[:2]
                    h, w = size
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
                    if not writer.isOpened():
                        raise InputError("OpenCV cannot open a video writer for this file", path)
                elif frame.shape[:2] != size:
                    raise InputError(f"frame {n} is {frame.shape[1]}x{frame.shape[0]} px but frame 0 is "
                                     f"{size[1]}x{size[0]} px", path)
                writer.write(np.ascontiguousarray(frame))
                n += 1
            if n == 0:
                raise InputError("no frames to write", path)
        finally:
            if writer is not None:
                writer.release()
    return n
