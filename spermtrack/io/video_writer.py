"""Frames out: :func:`write_video` encodes frames to a video file atomically and reads it back.

H.264 through PyAV (``.mp4``, played by browsers) or MPEG-4 Part 2 through OpenCV's writer (``.avi``,
byte-for-byte reproducible). Nothing appears at the target unless every frame was written and decodes
again; a short write (full disk, file size limit) is an :class:`OSError` that names its cause. Reading
frames is :mod:`spermtrack.io.video`'s (which re-exports :func:`write_video`).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from spermtrack.errors import InputError
from spermtrack.io._opencv import _cv2, _openable
from spermtrack.io.atomic import atomic_path

__all__ = ["write_video"]


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, *, codec: str | None = None) -> int:
    """Encode frames to a video file atomically: H.264 (``.mp4``) or MPEG-4 Part 2 (``mp4v``).

    ``h264`` (the default for ``.mp4``): yuv420p, CRF 23, the index at the front, through PyAV's own
    FFmpeg and libx264, so that browsers play it (the report's player); odd frame sizes are padded by
    one pixel (H.264 in yuv420p needs even sides). Its bytes may differ from run to run (x264's frame
    decisions; measured: 1 run in 6 on the same frames). ``mp4v`` (the default for ``.avi``): OpenCV's
    writer, byte-for-byte reproducible, which browsers do not play.

    Parameters
    ----------
    path : str or PathLike
        Target ``.mp4`` or ``.avi`` file; nothing appears there unless all frames were written.
    frames : iterable of numpy.ndarray
        uint8 frames, all the same size, grayscale ``(H, W)`` or BGR ``(H, W, 3)``.
    fps : float
        Frame rate stored in the container.
    codec : {'h264', 'mp4v'} or None
        ``None``: ``h264`` for ``.mp4``, ``mp4v`` otherwise.

    Returns
    -------
    int
        Number of frames written.

    Raises
    ------
    InputError
        ``fps`` is not positive, there are no frames, a frame is not uint8
        ``(H, W)``/``(H, W, 3)``, its size differs from the first frame's, or ``codec`` is unknown.
        The target is left untouched.
    OSError
        The file could not be written whole (full disk, file size limit): every frame is read back.
    """
    cv2 = _cv2()
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) \
            or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"fps must be a positive number, got {fps!r}", path)
    if codec not in (None, "h264", "mp4v"):
        raise InputError(f"codec must be 'h264' or 'mp4v', got {codec!r}", path)
    h264 = codec == "h264" or (codec is None and Path(path).suffix.lower() == ".mp4")
    with atomic_path(path) as tmp:
        encoder = _H264Writer(tmp, fps) if h264 else _OpenCVWriter(cv2, tmp, fps, path)
        n = 0
        try:
            for frame in frames:
                encoder.write(_checked_frame(cv2, frame, n, encoder.size, path))
                n += 1
            if n == 0:
                raise InputError("no frames to write", path)
            encoder.close()
        except OSError:
            encoder.abort()
            _check_written(cv2, tmp, n, path)  # names the cause (disk full, file size limit)
            raise
        finally:
            encoder.abort()
        _check_written(cv2, tmp, n, path)
    return n


def _checked_frame(cv2, frame, n: int, size: tuple[int, int] | None, path) -> np.ndarray:
    """Frame ``n`` as a BGR uint8 array of the first frame's size, else an InputError naming it."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise InputError(f"frame {n} must be a uint8 (H, W) or (H, W, 3) array, got {frame.dtype} {frame.shape}", path)
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if size is not None and frame.shape[:2] != size:
        raise InputError(f"frame {n} is {frame.shape[1]}x{frame.shape[0]} px but frame 0 is {size[1]}x{size[0]} px",
                         path)
    return np.ascontiguousarray(frame)


class _H264Writer:
    """H.264 through PyAV (libx264), opened on the first frame; FFmpeg errors become OSError."""

    def __init__(self, tmp: Path, fps: float) -> None:
        import av

        self.tmp, self.fps = tmp, fps
        self.size: tuple[int, int] | None = None
        self._av, self._cv2 = av, _cv2()
        self._container = self._stream = None

    def write(self, frame: np.ndarray) -> None:
        av, cv2 = self._av, self._cv2
        if self._container is None:
            self._open(frame.shape[:2])
        h, w = frame.shape[:2]
        if (h % 2) or (w % 2):
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        try:
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)  # OpenCV converts, as for every other frame here
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                self._container.mux(packet)
        except av.error.FFmpegError as exc:
            raise OSError(getattr(exc, "errno", None) or errno.EIO, str(exc)) from None

    def _open(self, size: tuple[int, int]) -> None:
        import fractions

        self.size = size
        self._container = self._av.open(str(self.tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._container.add_stream("libx264", rate=fractions.Fraction(self.fps).limit_denominator(1001))
        self._stream.height, self._stream.width = size[0] + size[0] % 2, size[1] + size[1] % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": "23", "preset": "veryfast"}

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except self._av.error.FFmpegError as exc:
            raise OSError(getattr(exc, "errno", None) or errno.EIO, str(exc)) from None
        finally:
            self._container = None

    def abort(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None


class _OpenCVWriter:
    """MPEG-4 Part 2 through OpenCV's writer (``.avi``), opened on the first frame."""

    def __init__(self, cv2, tmp: Path, fps: float, path) -> None:
        self.cv2, self.tmp, self.fps, self.path = cv2, tmp, fps, path
        self.size: tuple[int, int] | None = None
        self._writer = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self.size = frame.shape[:2]
            h, w = self.size
            self._writer = self.cv2.VideoWriter(str(self.tmp), self.cv2.VideoWriter_fourcc(*"mp4v"), float(self.fps),
                                                (w, h))
            if not self._writer.isOpened():
                raise InputError("OpenCV cannot open a video writer for this file", self.path)
        self._writer.write(frame)

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def _check_written(cv2, tmp: Path, n: int, path: str | os.PathLike) -> None:
    """Read back a video file just written: all ``n`` frames must decode.

    OpenCV's writer reports no error (and an encoder's error does not say why): on a full disk or past the file size limit (``ulimit -f``;
    Python ignores SIGXFSZ, so the write fails with EFBIG) it leaves a file without its index or
    with frames missing, which no player opens.

    Raises
    ------
    OSError
        Fewer (or more) frames can be decoded than were written; ``filename`` is ``path``.
    """
    read = 0
    with _openable(tmp) as name:
        cap = cv2.VideoCapture(name)
        try:
            if cap.isOpened():
                while read <= n and cap.grab():  # grab() decodes a frame without converting it
                    read += 1
        finally:
            cap.release()
    if read == n:
        return
    code, cause = errno.EIO, "an error of the disk or the video encoder"
    size = tmp.stat().st_size
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and size >= limit:
            code, cause = errno.EFBIG, f"the file size limit was reached: ulimit -f allows {limit} bytes"
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    if code == errno.EIO:
        with contextlib.suppress(OSError, AttributeError):
            disk = os.statvfs(tmp.parent)
            if disk.f_bavail * disk.f_frsize < 1024 * 1024:
                code, cause = errno.ENOSPC, "no space left on the disk"
    raise OSError(code, f"the video could not be written whole: {read} of its {n} frames can be read back "
                        f"({cause})", str(path))
