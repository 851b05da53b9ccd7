"""What every frame detector shares: the protocol, frame checks and the per-video loop.

A detector turns one frame into a detections table (see :mod:`spermtrack.schema`): ``frame``
(0-based int), ``x``, ``y`` (box centre, px; x to the right, y down), ``w``, ``h`` (px),
``score`` (0-1) and ``class_id`` (0 sperm, 1 cluster, 2 pinhead). ``detect_video`` runs it over
a stream of frames and returns one long table.

Frames
------
A frame is a numpy array: grayscale ``(H, W)`` or ``(H, W, 1)``, BGR ``(H, W, 3)`` as OpenCV
decodes it, or BGRA ``(H, W, 4)`` (alpha ignored). ``uint8`` is the native type; ``uint16`` is
scaled to 0-255 (divided by 257); ``float`` frames are read as grey levels on the 0-255 scale
(a float frame whose maximum is at most 1 is taken to be on the 0-1 scale and multiplied by
255). Any size of at least 8 x 8 px works; within one ``detect_video`` call every frame must
have the size of the first (a folder that mixes image sizes is an error, not a silent mix).

Pixel size
----------
The shipped detectors were fitted at VISEM-Tracking's scale (:data:`REFERENCE_UM_PER_PX`, 0.351 um/px,
heads about 8 px). Given a recording's pixel size ``um_per_px``, a detector works on the frame resampled
by :func:`pixel_scale` (``um_per_px / 0.351``) so that heads have the size it knows, and maps its
detections back to the frame's pixels (:func:`unscale`). Without a pixel size (``None``) frames are
taken as they are.
"""

from __future__ import annotations

import os

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError
from spermtrack.schema import DETECTION_COLUMNS, empty_detections

__all__ = ["Detector", "FrameDetector", "MIN_FRAME_SIDE", "REFERENCE_UM_PER_PX", "as_frame", "to_gray", "to_bgr",
           "iter_indexed", "detections_table", "pixel_scale", "resample", "unscale"]

#: Smallest frame side (px) a detector accepts.
MIN_FRAME_SIDE = 8
#: Pixel size (um) the shipped detectors were fitted at: VISEM-Tracking's. The SVIA clips behind the dark
#: look have no published pixel size and are taken as recorded at this one (their labelled head boxes are
#: 15 px, VISEM's 17 px).
REFERENCE_UM_PER_PX = VISEM_UM_PER_PX


@runtime_checkable
class Detector(Protocol):
    """The detector protocol used by the pipeline and the CLI.

    Attributes
    ----------
    name : str
        Short name (``"blob"``, ``"yolo"``), as given to :func:`~spermtrack.detectors.make_detector`.
    """

    name: str

    def detect(self, frame: np.ndarray, *, frame_index: int = 0) -> pd.DataFrame:
        """Detect heads in one frame; return a detections table with ``frame == frame_index``."""

    def detect_video(self, frames: Iterable, *, progress: bool = False, total: int | None = None) -> pd.DataFrame:
        """Detect heads in a stream of frames (arrays or ``(index, array)`` pairs); return one table."""

    def to_dict(self) -> dict:
        """The detector's settings as a plain dict, saved beside every output."""


def as_frame(frame: object, *, name: str = "frame") -> np.ndarray:
    """Check a frame and return it as ``uint8`` ``(H, W)`` or ``(H, W, 3)``.

    Parameters
    ----------
    frame : numpy.ndarray
        See the module docstring for the accepted shapes and types.
    name : str
        What to call the frame in error messages.

    Returns
    -------
    numpy.ndarray
        ``uint8``; grayscale ``(H, W)`` or BGR ``(H, W, 3)`` (``(H, W, 1)`` is squeezed, alpha dropped).
        A ``uint8`` input of a native shape is returned as is (no copy).

    Raises
    ------
    InputError
        Not an array, an empty or too small array, a shape that is not an image, a non-numeric
        dtype, or non-finite values in a float frame.
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(f"{name} must be a numpy array (an image), got {type(frame).__name__}")
    if frame.size == 0:
        raise InputError(f"{name} is empty (shape {frame.shape})")
    if frame.ndim == 3 and frame.shape[2] in (1, 4):
        frame = frame[:, :, 0] if frame.shape[2] == 1 else frame[:, :, :3]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise InputError(f"{name} must be a grayscale (H, W) or BGR (H, W, 3) image, got shape {frame.shape}")
    if min(frame.shape[:2]) < MIN_FRAME_SIDE:
        raise InputError(f"{name} is {frame.shape[1]} x {frame.shape[0]} px: detectors need at least "
                         f"{MIN_FRAME_SIDE} x {MIN_FRAME_SIDE} px")
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype == np.uint16:
        return (frame // 257).astype(np.uint8)
    if frame.dtype == np.bool_:
        return frame.astype(np.uint8) * 255
    if np.issubdtype(frame.dtype, np.integer) or np.issubdtype(frame.dtype, np.floating):
        values = frame.astype(np.float32)
        if not np.isfinite(values).all():
            raise InputError(f"{name} holds NaN or infinite values")
        if np.issubdtype(frame.dtype, np.floating) and values.max() <= 1.0:
            values = values * 255.0
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    raise InputError(f"{name} must hold numbers (uint8, uint16 or float), got dtype {frame.dtype}")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Return a ``uint8`` grayscale view of a checked frame (luma for BGR, as OpenCV's BGR2GRAY)."""
    import cv2

    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def to_bgr(frame: np.ndarray) -> np.ndarray:
    """Return a ``uint8`` BGR ``(H, W, 3)`` version of a checked frame (gray is replicated)."""
    import cv2

    return frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def pixel_scale(um_per_px: float | None) -> float:
    """The factor that resamples a frame of pixel size ``um_per_px`` to :data:`REFERENCE_UM_PER_PX`.

    ``> 1`` enlarges (coarse pixels, small heads), ``< 1`` shrinks; ``None`` (pixel size not given) gives 1.
    """
    return 1.0 if um_per_px is None else float(um_per_px) / REFERENCE_UM_PER_PX


def resample(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` resized by ``factor`` (area averaging when shrinking, bilinear when enlarging)."""
    if factor == 1.0:
        return image
    import cv2

    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def unscale(table: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Detections found on a frame resampled by ``factor`` in the original frame's pixels (pixel centres kept)."""
    if factor == 1.0 or table.empty:
        return table
    return table.assign(x=(table["x"] + 0.5) / factor - 0.5, y=(table["y"] + 0.5) / factor - 0.5,
                        w=table["w"] / factor, h=table["h"] / factor)


def iter_indexed(frames: Iterable) -> Iterator[tuple[int, np.ndarray]]:
    """Normalise a stream of frames to ``(frame_index, array)`` pairs.

    Items may be arrays (numbered 0, 1, 2, ... in order) or ``(index, array)`` pairs as yielded
    by :func:`spermtrack.io.video.iter_frames` (the index is kept). After a pair, a bare array
    gets the previous index + 1.

    Raises
    ------
    InputError
        An index is negative, not an integer, or not larger than the previous one.
    """
    nxt = 0
    previous = -1
    for item in frames:
        if isinstance(item, tuple) and len(item) == 2 and not isinstance(item[0], np.ndarray):
            index, frame = item
            if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or index < 0:
                raise InputError(f"frame index must be a non-negative integer, got {index!r}")
            index = int(index)
        else:
            index, frame = nxt, item
        if index <= previous:
            raise InputError(f"frame indices must increase: frame {index} follows frame {previous}")
        previous = index
        nxt = index + 1
        yield index, frame


def detections_table(frame_index: int, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray,
                     score: np.ndarray, class_id: np.ndarray) -> pd.DataFrame:
    """Build one frame's detections table with the contract's columns and dtypes.

    Parameters
    ----------
    frame_index : int
        0-based frame index written to every row.
    x, y, w, h, score, class_id : numpy.ndarray
        Per-detection values (centre and size in px, score in [0, 1], class 0/1/2).

    Returns
    -------
    pandas.DataFrame
        Columns ``frame, x, y, w, h, score, class_id`` (int64, float64 x 5, int64).
    """
    n = len(x)
    if n == 0:
        return empty_detections()
    return pd.DataFrame({
        "frame": np.full(n, frame_index, dtype=np.int64),
        "x": np.asarray(x, dtype=np.float64),
        "y": np.asarray(y, dtype=np.float64),
        "w": np.asarray(w, dtype=np.float64),
        "h": np.asarray(h, dtype=np.float64),
        "score": np.clip(np.asarray(score, dtype=np.float64), 0.0, 1.0),
        "class_id": np.asarray(class_id, dtype=np.int64),
    }, columns=list(DETECTION_COLUMNS))


def _concat(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_detections()
    return pd.concat(parts, ignore_index=True)


#: Per-frame tables are merged into one every this many (a pandas table's own overhead is tens of kB).
_MERGE_EVERY = 256


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class _Runner:
    """Run ``work(batch, indices)`` in order, in this thread or in a small pool with a bounded queue.

    ``submit`` returns the results that are finished (oldest first, in submission order), so memory holds
    at most ``2 * threads`` batches; ``finish`` returns the rest. With threads, OpenCV runs single-threaded
    inside each (its own thread pool would compete with ours for the same cores).
    """

    def __init__(self, work, *, threads: int) -> None:
        self.work, self.threads = work, threads
        self.pending: list = []
        self.pool = None
        self.cv_threads = None

    def __enter__(self) -> _Runner:
        if self.threads > 1:
            import concurrent.futures

            import cv2

            self.cv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.threads)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True)
            import cv2

            cv2.setNumThreads(self.cv_threads)

    def submit(self, batch: list, indices: list) -> list:
        if self.pool is None:
            return [self.work(batch, indices)]
        self.pending.append(self.pool.submit(self.work, batch, indices))
        done = []
        while len(self.pending) > 2 * self.threads or (self.pending and self.pending[0].done()):
            done.append(self.pending.pop(0).result())
        return done

    def finish(self) -> list:
        done = [future.result() for future in self.pending]
        self.pending = []
        return done


class FrameDetector:
    """Base class: ``detect_video`` in batches over a frame stream, on top of ``_detect_batch``.

    Subclasses set :attr:`name` and :attr:`batch_size` and implement
    ``_detect_batch(frames, indices) -> list of tables`` (frames already checked by
    :func:`as_frame`) and :meth:`to_dict`.
    """

    name: str = ""
    batch_size: int = 1
    #: Frame detectors read pixels (the ``gt`` detector of the registry does not).
    needs_frames: bool = True
    #: ``_detect_batch`` may run on several batches at once in threads (it only reads the detector's
    #: state); :meth:`detect_video` then uses one thread per CPU core, OpenCV single-threaded in each.
    thread_safe: bool = False

    def _detect_batch(self, frames: list[np.ndarray], indices: list[int]) -> list[pd.DataFrame]:
        raise NotImplementedError

    def _start_video(self, first: np.ndarray) -> None:
        """Hook called with the first checked frame of every ``detect_video`` call."""

    def to_dict(self) -> dict:
        raise NotImplementedError

    def detect(self, frame: np.ndarray, *, frame_index: int = 0) -> pd.DataFrame:
        """Detect heads in one frame.

        Parameters
        ----------
        frame : numpy.ndarray
            Grayscale or BGR image (see :mod:`spermtrack.detectors.base`).
        frame_index : int
            Written to the ``frame`` column.

        Returns
        -------
        pandas.DataFrame
            Detections table ``frame, x, y, w, h, score, class_id``, possibly empty.

        Raises
        ------
        InputError
            The frame is not an image (see :func:`as_frame`).
        """
        if isinstance(frame_index, (bool, np.bool_)) or not isinstance(frame_index, (int, np.integer)) \
                or frame_index < 0:
            raise InputError(f"frame_index must be a non-negative integer, got {frame_index!r}")
        checked = as_frame(frame)
        self._start_video(checked)
        return self._detect_batch([checked], [int(frame_index)])[0]

    def detect_video(self, frames: Iterable, *, progress: bool = False, total: int | None = None) -> pd.DataFrame:
        """Detect heads in every frame of a stream, in batches of :attr:`batch_size`.

        Parameters
        ----------
        frames : iterable
            Arrays (numbered 0, 1, ...) or ``(index, array)`` pairs, e.g.
            ``spermtrack.io.video.iter_frames(path)``. Consumed lazily: memory holds one batch.
        progress : bool
            Show a tqdm progress bar on stderr.
        total : int, optional
            Number of frames, for the progress bar.

        Returns
        -------
        pandas.DataFrame
            One detections table for all frames, sorted by frame.

        Raises
        ------
        InputError
            A frame is not an image, frame indices do not increase, or a frame's size differs
            from the first frame's.
        """
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="frame", desc=f"detect ({self.name})", leave=False)
        parts: list[pd.DataFrame] = []  # per-frame tables not yet merged
        merged: list[pd.DataFrame] = []  # one table per _MERGE_EVERY frames
        batch: list[np.ndarray] = []
        indices: list[int] = []
        size = None
        with _Runner(self._detect_batch, threads=_threads() if self.thread_safe else 1) as run:
            try:
                for index, frame in iter_indexed(frames):
                    checked = as_frame(frame, name=f"frame {index}")
                    if size is None:
                        size = checked.shape[:2]
                        self._start_video(checked)
                    elif checked.shape[:2] != size:
                        raise InputError(f"frame {index} is {checked.shape[1]} x {checked.shape[0]} px but the first "
                                         f"frame is {size[1]} x {size[0]} px: a video's frames must share one size")
                    batch.append(checked)
                    indices.append(index)
                    if len(batch) >= self.batch_size:
                        for done in run.submit(batch, indices):
                            parts.extend(done)
                            if bar is not None:
                                bar.update(len(done))
                        batch, indices = [], []
                        if len(parts) >= _MERGE_EVERY:  # one small table per frame costs more than its rows
                            merged.append(_concat(parts))
                            parts = []
                finished = run.submit(batch, indices) if batch else []
                for done in finished + run.finish():
                    parts.extend(done)
                    if bar is not None:
                        bar.update(len(done))
            finally:
                if bar is not None:
                    bar.close()
        return _concat(merged + parts)
