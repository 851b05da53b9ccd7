"""Common drift of all tracks (flow in the chamber, stage creep): estimate it and take it out.

In a wet preparation the fluid often flows for a while after the cover slip is placed, carrying every
cell, motile or not. WHO grades describe how a sperm moves *through the fluid* (the manual asks to wait
until drifting has stopped), and drift of a few um/s is enough to make immotile cells "progressive".

Estimate, per frame f:

1. every track present at ``f - h`` and ``f + h`` (``h = lag_s * fps`` frames, measured at both) gives a
   velocity ``v_k = (p_k(f + h) - p_k(f - h)) / 2h`` (the lag averages out head wobble and noise);
2. the drift is the MODE of these velocities, found by mean shift with a flat kernel of radius
   ``radius_um_s`` started from the per-axis median: immotile and non-progressive cells move with the
   fluid and form a tight cluster, while progressive cells scatter over tens of um/s in all directions
   (a plain median is pulled by them when immotile cells are few);
3. the estimate is accepted only if at least ``min_tracks`` tracks, and ``min_fraction`` of the tracks
   of that frame, lie within the radius; frames without such support take the velocity interpolated
   from supported frames, and with no supported frame at all the drift is 0 (nothing is compensated:
   a video of progressive cells alone gives no handle on the fluid);
4. the velocity is averaged over ``window_s`` and integrated into the drift path (0 at the first
   frame), which is subtracted from every position of every track.

The drift path is reported so the correction can be inspected or undone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spermtrack.kinematics._segments import Layout
from spermtrack.kinematics.arrays import check_calibration, prepare_arrays
from spermtrack.kinematics.config import KinematicsConfig

__all__ = ["estimate_drift", "drift_steps", "drift_settings"]


def drift_steps(frames: np.ndarray, xy: np.ndarray, layout: Layout, measured: np.ndarray, *, fps: float,
                um_per_px: float, min_tracks: int = 5, min_fraction: float = 0.1, window_s: float = 1.0,
                lag_s: float = 0.25, radius_um_s: float = 3.0, iterations: int = 4) -> pd.DataFrame:
    """Per-frame common drift from flat, densified track arrays (see the module docstring).

    Parameters
    ----------
    frames : ndarray of int, shape (n,)
    xy : ndarray, shape (n, 2)
        Measured positions, px.
    layout : Layout
        Track layout of the rows.
    measured : ndarray of bool, shape (n,)
        Only measured rows give velocities.
    fps, um_per_px : float
        Calibration (for the lag and the radius).
    min_tracks : int
        Fewest tracks within the radius of the mode for a frame's estimate.
    min_fraction : float
        ... and the fewest as a fraction of the tracks with a velocity in that frame.
    window_s : float
        Length of the centred running mean over frames (0 = none).
    lag_s : float
        Half-width of the centred difference giving each track's velocity.
    radius_um_s : float
        Radius of the mean-shift kernel.
    iterations : int
        Mean-shift iterations.

    Returns
    -------
    pandas.DataFrame
        One row per frame from the first to the last: ``frame``, ``n_tracks`` (tracks with a velocity),
        ``support`` (tracks within the radius of the mode), ``estimated`` (bool: supported), ``dx_px``,
        ``dy_px`` (smoothed drift velocity, px/frame), ``x_px``, ``y_px`` (drift path: cumulative drift,
        0 at the first frame).
    """
    cols = ["frame", "n_tracks", "support", "estimated", "dx_px", "dy_px", "x_px", "y_px"]
    if len(frames) == 0:
        return pd.DataFrame({c: np.zeros(0, np.int64 if c in ("frame", "n_tracks", "support") else
                                         (bool if c == "estimated" else np.float64)) for c in cols})
    f0, f1 = int(frames.min()), int(frames.max())
    n_frames = f1 - f0 + 1
    h = max(1, int(round(lag_s * fps)))
    n = len(xy)
    vel = np.zeros((n_frames, 2))
    counts = np.zeros(n_frames, np.int64)
    support = np.zeros(n_frames, np.int64)
    if n > 2 * h:
        centre = np.arange(h, n - h)
        ok = (layout.loc[centre] >= h) & (layout.rem[centre] >= h) & measured[centre - h] & measured[centre + h]
        idx = centre[ok]
        v = (xy[idx + h] - xy[idx - h]) / (2.0 * h)
        g = frames[idx] - f0
        counts = np.bincount(g, minlength=n_frames)
        if len(idx):
            vx, vy = v[:, 0].copy(), v[:, 1].copy()
            med = pd.DataFrame({"g": g, "vx": vx, "vy": vy}).groupby("g", sort=True).median()
            cx = np.zeros(n_frames)
            cy = np.zeros(n_frames)
            cx[med.index.to_numpy()] = med["vx"].to_numpy()
            cy[med.index.to_numpy()] = med["vy"].to_numpy()
            r2 = (radius_um_s / (um_per_px * fps)) ** 2
            for _ in range(iterations):
                ex, ey = vx - cx[g], vy - cy[g]
                inside = ex * ex + ey * ey <= r2
                gi = g[inside]
                k = np.bincount(gi, minlength=n_frames)
                has = k > 0
                cx[has] = np.bincount(gi, weights=vx[inside], minlength=n_frames)[has] / k[has]
                cy[has] = np.bincount(gi, weights=vy[inside], minlength=n_frames)[has] / k[has]
            ex, ey = vx - cx[g], vy - cy[g]
            support = np.bincount(g[ex * ex + ey * ey <= r2], minlength=n_frames)
            vel = np.column_stack([cx, cy])
    estimated = (support >= min_tracks) & (support >= min_fraction * counts) & (counts > 0)
    if estimated.any():
        f_ok = np.flatnonzero(estimated)
        grid = np.arange(n_frames)
        vel = np.column_stack([np.interp(grid, f_ok, vel[f_ok, a]) for a in range(2)])
    else:
        vel = np.zeros((n_frames, 2))
    width = int(round(window_s * fps))
    if width > 1:
        vel = _truncated_mean(vel, width // 2)
    step = np.zeros((n_frames, 2))
    step[1:] = 0.5 * (vel[1:] + vel[:-1])          # trapezoid: motion from frame f - 1 to f
    path = np.cumsum(step, axis=0)
    return pd.DataFrame({"frame": np.arange(f0, f1 + 1, dtype=np.int64), "n_tracks": counts.astype(np.int64),
                         "support": support.astype(np.int64), "estimated": estimated, "dx_px": vel[:, 0],
                         "dy_px": vel[:, 1], "x_px": path[:, 0], "y_px": path[:, 1]})


def estimate_drift(tracks: pd.DataFrame, *, fps: float, um_per_px: float, config: KinematicsConfig | None = None
                   ) -> pd.DataFrame:
    """Estimate the common drift of a tracks table (see the module docstring).

    Parameters
    ----------
    tracks : pandas.DataFrame
        A tracks table of the data contract (``frame, x, y, ..., track_id``); rows flagged
        ``interpolated`` and rows with ``track_id == -1`` are not used.
    fps, um_per_px : float
        Calibration.
    config : KinematicsConfig, optional
        Its ``drift_*`` settings are used (default: the who2021 preset's).

    Returns
    -------
    pandas.DataFrame
        As :func:`drift_steps`. Subtract ``x_px, y_px`` at each row's frame to remove the drift.
    """
    s, fps = check_calibration(um_per_px, fps)
    cfg = KinematicsConfig() if config is None else config
    arr = prepare_arrays(tracks)
    return drift_steps(arr.frame, arr.raw, arr.layout, arr.measured, fps=fps, um_per_px=s,
                       **drift_settings(cfg))


def _truncated_mean(values: np.ndarray, half: int) -> np.ndarray:
    """Centred running mean over ``2 half + 1`` rows, truncated at the ends (any length, even shorter).

    Row ``i`` is the mean of rows ``max(0, i - half) .. min(n - 1, i + half)``.
    """
    n = len(values)
    cum = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    i = np.arange(n)
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, n)
    return (cum[hi] - cum[lo]) / (hi - lo).reshape((-1,) + (1,) * (values.ndim - 1))


def drift_settings(config: KinematicsConfig) -> dict:
    """The keyword arguments of :func:`drift_steps` taken from a config."""
    return {"min_tracks": config.drift_min_tracks, "min_fraction": config.drift_min_fraction,
            "window_s": config.drift_window_s, "lag_s": config.drift_lag_s,
            "radius_um_s": config.drift_radius_um_s}
