"""Vectorised building blocks over many trajectories stored end to end (internal).

All tracks live in flat arrays, sorted by track then frame, densified so that consecutive rows of a track
are consecutive frames. ``starts`` holds the first row of each track, ``lengths`` their number of rows;
``loc`` is a row's index within its track and ``rem`` the number of rows after it in the same track.
Per-track reductions use ``numpy.ufunc.reduceat`` over ``starts`` (every track has at least one row).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Where each track sits in the flat arrays."""

    starts: np.ndarray   # (T,) first row of each track
    lengths: np.ndarray  # (T,) rows per track (>= 1)
    tix: np.ndarray      # (n,) track index of each row
    loc: np.ndarray      # (n,) index within the track
    rem: np.ndarray      # (n,) rows after this one in the same track

    @classmethod
    def from_lengths(cls, lengths: np.ndarray) -> Layout:
        lengths = np.asarray(lengths, dtype=np.int64)
        starts = np.zeros(len(lengths), np.int64)
        if len(lengths):
            np.cumsum(lengths[:-1], out=starts[1:])
        n = int(lengths.sum())
        tix = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        loc = np.arange(n, dtype=np.int64) - starts[tix]
        rem = lengths[tix] - 1 - loc
        return cls(starts, lengths, tix, loc, rem)

    @property
    def n_tracks(self) -> int:
        return len(self.starts)

    @property
    def ends(self) -> np.ndarray:
        return self.starts + self.lengths - 1

    def track_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (aligned with rows) per track."""
        if self.n_tracks == 0:
            return np.zeros(0)
        return np.add.reduceat(values, self.starts, axis=0)

    def track_max(self, values: np.ndarray) -> np.ndarray:
        """Max of ``values`` per track."""
        if self.n_tracks == 0:
            return np.zeros(0)
        return np.maximum.reduceat(values, self.starts, axis=0)


def track_rows(layout: Layout, tracks: np.ndarray) -> np.ndarray:
    """Row indices of the given tracks, in order (a ragged ``arange`` without a Python loop)."""
    lengths = layout.lengths[tracks]
    if len(lengths) == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(layout.starts[tracks] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + offsets


def shift_back(values: np.ndarray, layout: Layout, lag: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return ``values[i - lag]`` aligned with row ``i`` and a mask of rows where it is in the same track."""
    n = len(values)
    out = np.zeros_like(values)
    if lag < n:
        out[lag:] = values[:n - lag]
    ok = layout.loc >= lag
    return out, ok


def centred_mean(values: np.ndarray, layout: Layout, half: int) -> np.ndarray:
    """Running mean over ``2 k + 1`` rows, ``k = min(half, loc, rem)``: the window shrinks symmetrically at ends.

    ``values`` is (n,) or (n, d). Rows with ``k < half`` are recomputed from their own shrunken windows.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if half <= 0 or n == 0:
        return v.copy()
    from scipy.ndimage import uniform_filter1d  # here, not at import: scipy is not needed before the first frame

    out = uniform_filter1d(v, 2 * half + 1, axis=0, mode="constant")
    # rows within `half` of a track end: the symmetric window of half-width k = min(loc, rem)
    long_tracks = np.flatnonzero(layout.lengths > 2 * half)
    first, last = layout.starts[long_tracks], layout.ends[long_tracks]
    for kk in range(half):
        for rows in (first + kk, last - kk):
            acc = np.zeros((len(rows),) + v.shape[1:])
            for j in range(-kk, kk + 1):
                acc += v[rows + j]
            out[rows] = acc / (2 * kk + 1)
    short = np.flatnonzero(layout.lengths <= 2 * half)
    if len(short):
        rows = track_rows(layout, short)
        k = np.minimum(np.minimum(layout.loc[rows], layout.rem[rows]), half)
        for kk in range(half + 1):
            idx = rows[k == kk]
            if len(idx) == 0:
                continue
            acc = np.zeros((len(idx),) + v.shape[1:])
            for j in range(-kk, kk + 1):
                acc += v[idx + j]
            out[idx] = acc / (2 * kk + 1)
    return out


@lru_cache(maxsize=256)
def savgol_weights(half: int, offset: int) -> np.ndarray:
    """Weights of a local quadratic least-squares fit over rows ``-half .. half``, evaluated at ``offset``.

    For ``offset = 0`` these are the Savitzky-Golay smoothing coefficients
    ``c_j = (3 (3 h^2 + 3 h - 1) - 15 j^2) / ((2 h - 1)(2 h + 1)(2 h + 3))`` (Savitzky and Golay 1964).
    Read-only array of length ``2 half + 1``.
    """
    j = np.arange(-half, half + 1, dtype=np.float64)
    design = np.vstack([np.ones_like(j), j, j * j]).T
    coef = np.linalg.pinv(design)            # (3, 2h+1): least-squares polynomial coefficients
    w = np.array([1.0, offset, offset * offset]) @ coef
    w.setflags(write=False)
    return w


def local_quadratic(values: np.ndarray, layout: Layout, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Local quadratic (Savitzky-Golay) smoothing with window ``2 h + 1`` rows, fitted inside each track.

    ``h = min(half, (length - 1) // 2)`` per track; tracks with ``h < 2`` are returned unchanged (a
    quadratic through 3 points is the identity). Near the ends the window is shifted to stay inside the
    track and the fit evaluated off-centre, so end points are smoothed too.

    Returns
    -------
    smoothed : ndarray, like ``values``
    hat : ndarray, shape (n,)
        The weight of each row on its own smoothed value (the diagonal of the smoother matrix), for
        risk estimates such as Mallows' Cp.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0 or half < 2:
        return v.copy(), np.ones(n)
    h_track = np.minimum(half, (layout.lengths - 1) // 2)
    # the bulk: centred windows of the full half-width over the whole array (edges are redone below)
    w = savgol_weights(half, 0)
    from scipy.ndimage import correlate1d

    out = correlate1d(v, w, axis=0, mode="constant")
    hat = np.full(n, w[half])
    # ends of the tracks long enough for the full window: shifted windows, evaluated off-centre
    full = np.flatnonzero(h_track == half)
    if len(full):
        first, last = layout.starts[full], layout.ends[full]
        for j in range(half):
            for rows, off in ((first + j, j - half), (last - j, half - j)):
                wj = savgol_weights(half, off)
                centre = rows - off
                acc = np.zeros((len(rows),) + v.shape[1:])
                for i in range(-half, half + 1):
                    acc += wj[i + half] * v[centre + i]
                out[rows] = acc
                hat[rows] = wj[off + half]
    # tracks too short for the full window: their own, smaller window (or none)
    for h in np.unique(h_track[h_track < half]):
        h = int(h)
        tracks = np.flatnonzero(h_track == h)
        rows = track_rows(layout, tracks)
        if h < 2:
            out[rows] = v[rows]
            hat[rows] = 1.0
            continue
        loc, rem = layout.loc[rows], layout.rem[rows]
        q = np.where(loc < h, loc - h, np.where(rem < h, h - rem, 0))
        for off in range(-h, h + 1):
            idx = rows[q == off]
            if len(idx) == 0:
                continue
            wj = savgol_weights(h, off)
            centre = idx - off
            acc = np.zeros((len(idx),) + v.shape[1:])
            for i in range(-h, h + 1):
                acc += wj[i + h] * v[centre + i]
            out[idx] = acc
            hat[idx] = wj[off + h]
    return out, hat
