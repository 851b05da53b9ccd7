"""Clips cut along tracks: the input of the per-sperm video models (pure arrays, no file I/O).

A clip is ``CLIP_FRAMES`` grayscale crops of one sperm, head-centred in every frame, spanning
``CLIP_SPAN_S`` seconds at the middle of its track (the whole track when it is shorter, frames then
repeat). Each crop covers ``CLIP_SIDE_UM`` (48 px at VISEM's 0.351 um/px: the head and the first third
of the tail) and is resampled to ``CLIP_PX`` x ``CLIP_PX`` px, so clips of any pixel size look alike.
Crops are not rotated to the heading: the models are trained with flips and quarter turns instead.

Two steps, so that a video is decoded once for all its tracks:

1. :func:`clip_plan` (tracks -> which frame and centre each crop of each clip takes);
2. :func:`cut_clips` (a stream of frames + the plan -> the clips array).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError

__all__ = ["CLIP_FRAMES", "CLIP_PX", "CLIP_SIDE_UM", "CLIP_SPAN_S", "clip_plan", "cut_clips"]

CLIP_FRAMES = 16
CLIP_PX = 32
CLIP_SIDE_UM = 48 * VISEM_UM_PER_PX
CLIP_SPAN_S = 1.0


def clip_plan(tracks: pd.DataFrame, *, fps: float, span_s: float = CLIP_SPAN_S,
              n_frames: int = CLIP_FRAMES) -> pd.DataFrame:
    """Which frame and head centre each crop of each track's clip takes.

    Parameters
    ----------
    tracks : pandas.DataFrame
        Tracks table (``track_id``, ``frame``, ``x``, ``y``); rows with ``track_id < 0`` are ignored.
        Frames a track missed are interpolated linearly between its rows.
    fps : float
        Frame rate, frames/s.
    span_s : float
        Time a clip spans, s (centred on the middle of the track).
    n_frames : int
        Crops per clip.

    Returns
    -------
    pandas.DataFrame
        ``track_id, k, frame, x, y`` with ``k = 0 .. n_frames - 1``, sorted by track then ``k``.
    """
    missing = {"track_id", "frame", "x", "y"} - set(tracks.columns)
    if missing:
        raise InputError(f"a tracks table needs the columns {', '.join(sorted(missing))}")
    rows = tracks.loc[tracks["track_id"] >= 0, ["track_id", "frame", "x", "y"]].sort_values(["track_id", "frame"])
    span = max(1, round(span_s * fps))
    parts = []
    for tid, track in rows.groupby("track_id", sort=True):
        frame = track["frame"].to_numpy(np.int64)
        first, last = int(frame[0]), int(frame[-1])
        middle = (first + last) / 2
        lo = max(first, round(middle - span / 2))
        hi = min(last, lo + span - 1)
        picked = np.rint(np.linspace(lo, hi, n_frames)).astype(np.int64)
        parts.append(pd.DataFrame({"track_id": tid, "k": np.arange(n_frames), "frame": picked,
                                   "x": np.interp(picked, frame, track["x"].to_numpy(np.float64)),
                                   "y": np.interp(picked, frame, track["y"].to_numpy(np.float64))}))
    if not parts:
        return pd.DataFrame({"track_id": pd.Series(dtype=np.int64), "k": pd.Series(dtype=np.int64),
                             "frame": pd.Series(dtype=np.int64), "x": pd.Series(dtype=np.float64),
                             "y": pd.Series(dtype=np.float64)})
    return pd.concat(parts, ignore_index=True)


def cut_clips(frames: Iterable, plan: pd.DataFrame, *, um_per_px: float,
              side_px: int = CLIP_PX) -> tuple[np.ndarray, np.ndarray]:
    """Cut the clips of :func:`clip_plan` from a stream of frames, in one pass.

    Parameters
    ----------
    frames : iterable
        ``(frame_index, image)`` pairs in increasing frame order (grayscale or BGR uint8), e.g.
        ``spermtrack.io.video.iter_frames(path)``. Frames the plan does not need are skipped; the
        stream may stop after the last frame it needs.
    plan : pandas.DataFrame
        From :func:`clip_plan`.
    um_per_px : float
        Pixel size of the frames, um: each crop covers :data:`CLIP_SIDE_UM`.
    side_px : int
        Side of the resampled crops, px.

    Returns
    -------
    clips : numpy.ndarray, float32, shape (n_tracks, n_frames, side_px, side_px)
        Grey levels 0-255; a crop that reaches past the frame edge repeats the edge pixels.
    track_ids : numpy.ndarray of int64
        The track of each clip, in the plan's order.
    """
    import cv2

    track_ids = plan["track_id"].drop_duplicates().to_numpy(np.int64)
    n_frames = int(plan["k"].max()) + 1 if len(plan) else CLIP_FRAMES  # no clip: the standard shape, empty
    clips = np.zeros((len(track_ids), n_frames, side_px, side_px), np.float32)
    if not len(plan):
        return clips, track_ids
    row_of = {tid: i for i, tid in enumerate(track_ids)}
    crop = max(4.0, CLIP_SIDE_UM / float(um_per_px))
    needed = plan.groupby("frame")
    wanted = set(needed.groups)
    last = max(wanted)
    for index, image in frames:
        if index in wanted:
            gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            gray = gray.astype(np.float32)
            for tid, k, x, y in needed.get_group(index)[["track_id", "k", "x", "y"]].itertuples(index=False):
                patch = cv2.getRectSubPix(gray, (round(crop), round(crop)), (float(x), float(y)))
                clips[row_of[tid], k] = cv2.resize(patch, (side_px, side_px), interpolation=cv2.INTER_AREA)
            wanted.discard(index)
        if index >= last:
            break
    if wanted:
        raise InputError(f"the video ended before frame {min(wanted)}, which a clip needs")
    return clips, track_ids
