"""A tracks table as flat, densified arrays: the layout every kinematics step works on.

:func:`prepare_arrays` validates a tracks table, drops rows outside confirmed tracks, sorts by track and
frame and fills each track's missing frames with linearly bridged, unmeasured rows (see
:mod:`._segments`). :func:`trim_long_gaps` keeps of each track the longest stretch that no long run of
unmeasured frames interrupts. :func:`check_calibration` is the one check of ``um_per_px`` and ``fps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack._validate import calibration
from spermtrack.errors import InputError
from spermtrack.kinematics._segments import Layout
from spermtrack.schema import validate_tracks

__all__ = ["TrackArrays", "check_calibration", "longest_stretch", "prepare_arrays", "trim_long_gaps"]


def check_calibration(um_per_px: object, fps: object) -> tuple[float, float]:
    """Return ``(um_per_px, fps)`` as floats; missing, non-numeric, non-finite or physically implausible
    values are an :class:`InputError` (calibration is always explicit; see
    :func:`spermtrack._validate.calibration` for the ranges)."""
    fps, um_per_px = calibration(fps, um_per_px)
    return um_per_px, fps


def _flag(df: pd.DataFrame, column: str, default: bool) -> np.ndarray:
    """A boolean column read leniently (bool, 0/1, 'true'/'false'); absent -> ``default``."""
    if column not in df.columns:
        return np.full(len(df), default)
    s = df[column]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=bool)
    lut = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    mapped = s.map(lambda v: lut.get(str(v).strip().lower()))
    bad = mapped.isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError(f"tracks column '{column}' must be boolean, got {s.iloc[pos]!r} at row {pos}")
    return mapped.to_numpy(dtype=bool)


@dataclass(frozen=True, eq=False)
class TrackArrays:
    """A tracks table as flat, densified arrays sorted by track then frame (see :mod:`._segments`)."""

    layout: Layout
    frame: np.ndarray          # (n,) int
    raw: np.ndarray            # (n, 2) measured x, y (bridged linearly where missing)
    smoothed: np.ndarray | None  # (n, 2) tracker x_s, y_s, or None
    measured: np.ndarray       # (n,) bool: observed, not interpolated, not bridged
    present: np.ndarray        # (n,) bool: the row was in the input (measured or flagged interpolated)
    track_id: np.ndarray       # (T,) int
    class_id: np.ndarray       # (T,) int, most frequent class of the track
    n_points: np.ndarray       # (T,) rows of the track in the input (in its kept stretch, after trimming)
    max_gap: np.ndarray        # (T,) longest run of unmeasured frames
    n_dropped: int = 0         # input rows not in a confirmed track
    n_trimmed: np.ndarray | None = None  # (T,) input rows cut off by :func:`trim_long_gaps` (None: not trimmed)


def prepare_arrays(tracks: pd.DataFrame, *, name: str = "tracks") -> TrackArrays:
    """Validate a tracks table and lay it out as flat densified arrays (used by every stage).

    Raises
    ------
    InputError
        As :func:`spermtrack.schema.validate_tracks` (missing column, NaN or non-numeric value, duplicate
        ``(frame, track_id)``), or a NaN/non-numeric ``x_s``/``y_s``, or a non-boolean ``interpolated``.
    """
    if not isinstance(tracks, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(tracks).__name__}")
    # rows in no confirmed track (track_id -1, several per frame) go before the contract check
    keep = np.ones(len(tracks), bool)
    if "track_id" in tracks.columns:
        keep &= pd.to_numeric(tracks["track_id"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan) != -1
    keep &= _flag(tracks, "confirmed", True)
    n_dropped = int((~keep).sum())
    df = validate_tracks(tracks[keep] if n_dropped else tracks, name=name)
    has_s = "x_s" in df.columns and "y_s" in df.columns
    tid = df["track_id"].to_numpy(np.int64)
    frame = df["frame"].to_numpy(np.int64)
    if len(tid) > 1:
        dt = np.diff(tid)
        in_order = bool(((dt > 0) | ((dt == 0) & (np.diff(frame) > 0))).all())
    else:
        in_order = True
    order = None if in_order else np.lexsort((frame, tid))

    def col(c: str) -> np.ndarray:
        v = df[c].to_numpy()
        return v if order is None else v[order]

    tid, frame = col("track_id").astype(np.int64), col("frame").astype(np.int64)
    raw = np.column_stack([col("x"), col("y")]).astype(np.float64)
    smoothed = None
    if has_s:
        parts = []
        for c in ("x_s", "y_s"):
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            v = v if order is None else v[order]
            if not np.isfinite(v).all():
                pos = int(np.flatnonzero(~np.isfinite(v))[0])
                raise InputError(f"{name} column '{c}' has a missing or non-numeric value in confirmed track "
                                 f"{tid[pos]} at frame {frame[pos]}")
            parts.append(v)
        smoothed = np.column_stack(parts)
    interp = _flag(df, "interpolated", False)
    interp = interp if order is None else interp[order]
    cls = col("class_id").astype(np.int64)

    n = len(tid)
    if n == 0:
        layout = Layout.from_lengths(np.zeros(0, np.int64))
        empty = np.zeros(0, np.int64)
        return TrackArrays(layout, frame, raw.reshape(0, 2), None if smoothed is None else smoothed.reshape(0, 2),
                           np.zeros(0, bool), np.zeros(0, bool), empty, empty, empty, empty, n_dropped)
    new = np.ones(n, bool)
    new[1:] = tid[1:] != tid[:-1]
    starts_in = np.flatnonzero(new)
    counts = np.diff(np.append(starts_in, n))
    first = frame[starts_in]
    last = frame[np.append(starts_in[1:], n) - 1]
    lengths = last - first + 1
    track_ids = tid[starts_in]
    tix_in = np.repeat(np.arange(len(starts_in)), counts)
    # most frequent class per track (ties -> smallest class id)
    n_cls = int(cls.max()) + 1
    cls_counts = np.bincount(tix_in * n_cls + cls, minlength=len(starts_in) * n_cls).reshape(-1, n_cls)
    class_id = cls_counts.argmax(axis=1).astype(np.int64)

    layout = Layout.from_lengths(lengths)
    if int(lengths.sum()) == n:
        d_frame, d_raw, d_s = frame, raw, smoothed
        measured = ~interp
        present = np.ones(n, bool)
    else:
        dense_pos = layout.starts[tix_in] + (frame - first[tix_in])
        total = int(lengths.sum())
        d_frame = first[layout.tix] + layout.loc
        present = np.zeros(total, bool)
        present[dense_pos] = True
        measured = np.zeros(total, bool)
        measured[dense_pos] = ~interp
        grid = np.arange(total, dtype=np.float64)

        def bridge(values: np.ndarray) -> np.ndarray:
            out = np.empty((total, 2))
            for a in range(2):
                out[:, a] = np.interp(grid, dense_pos.astype(np.float64), values[:, a])
            return out

        d_raw = bridge(raw)
        d_s = None if smoothed is None else bridge(smoothed)
    # longest run of unmeasured rows per track
    unmeasured = ~measured
    run_start = unmeasured & ~np.concatenate([[False], unmeasured[:-1]]) | (unmeasured & (layout.loc == 0))
    run_id = np.cumsum(run_start) * unmeasured
    max_gap = np.zeros(len(lengths), np.int64)
    if unmeasured.any():
        run_len = np.bincount(run_id, minlength=int(run_id.max()) + 1)
        run_track = np.zeros(len(run_len), np.int64)
        run_track[run_id[unmeasured]] = layout.tix[unmeasured]
        np.maximum.at(max_gap, run_track[1:], run_len[1:])
    return TrackArrays(layout, d_frame, d_raw, d_s, measured, present, track_ids, class_id,
                       counts.astype(np.int64), max_gap, n_dropped)


def longest_stretch(measured: np.ndarray, max_gap: int) -> tuple[int, int]:
    """First and last row of the longest stretch of one track that no run of more than ``max_gap``
    unmeasured rows interrupts.

    Parameters
    ----------
    measured : numpy.ndarray of bool
        One track's densified rows: True where the position was observed.
    max_gap : int
        Longest run of unmeasured rows a stretch may contain (>= 0).

    Returns
    -------
    tuple of int
        ``(first, last)``, both measured rows; the earliest stretch of the greatest length wins a tie.
        A track without a measured row gives ``(0, len(measured) - 1)``: there is nothing to choose from.
    """
    rows = np.flatnonzero(measured)
    if not len(rows):
        return 0, len(measured) - 1
    breaks = np.flatnonzero(np.diff(rows) - 1 > max_gap)      # a long run lies between rows[i] and rows[i + 1]
    firsts = rows[np.concatenate([[0], breaks + 1])]
    lasts = rows[np.concatenate([breaks, [len(rows) - 1]])]
    best = int(np.argmax(lasts - firsts))
    return int(firsts[best]), int(lasts[best])


def trim_long_gaps(arr: TrackArrays, max_gap: int) -> TrackArrays:
    """Keep of every track with a run of more than ``max_gap`` unmeasured frames only its longest stretch
    without one (:func:`longest_stretch`); other tracks are untouched.

    A tracker that keeps a lost cell through a long miss links the two sides correctly, but nothing is
    known of the path in between: the track is measured where it was seen, on its longest such stretch,
    instead of being bridged or dropped whole. A trimmed track's stretch starts and ends on measured rows
    (unmeasured rows at its ends go too); a track without a measured row is kept whole.

    Parameters
    ----------
    arr : TrackArrays
        From :func:`prepare_arrays`.
    max_gap : int
        Longest run of unmeasured frames that is bridged (>= 0).

    Returns
    -------
    TrackArrays
        The kept rows. ``n_points`` counts the input rows kept, ``n_trimmed`` those cut off, per track;
        ``max_gap`` is still the longest run of the whole track (why it was trimmed); the other per-track
        fields are unchanged.
    """
    layout = arr.layout
    lo, hi = np.zeros(layout.n_tracks, np.int64), layout.lengths - 1
    for t in np.flatnonzero(arr.max_gap > max_gap):
        start = layout.starts[t]
        lo[t], hi[t] = longest_stretch(arr.measured[start:start + layout.lengths[t]], max_gap)
    keep = (layout.loc >= lo[layout.tix]) & (layout.loc <= hi[layout.tix])
    n_points = layout.track_sum((arr.present & keep).astype(np.int64)).astype(np.int64)
    n_trimmed = arr.n_points - n_points
    return TrackArrays(Layout.from_lengths(hi - lo + 1), arr.frame[keep], arr.raw[keep],
                       None if arr.smoothed is None else arr.smoothed[keep], arr.measured[keep], arr.present[keep],
                       arr.track_id, arr.class_id, n_points, arr.max_gap, arr.n_dropped, n_trimmed)
