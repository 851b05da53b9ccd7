"""Batch tracking of a whole detections table: :func:`track`.

The table is validated and converted to numpy once, sorted by frame (and, within a
frame, by value, see :func:`~spermtrack.tracker.online.frame_order`), split by frame,
and run through the same engine as the streaming :class:`~spermtrack.tracker.Tracker`;
the offline refinements of :mod:`~spermtrack.tracker.offline` follow, and the output
table is built once at the end. With the offline steps off
(:meth:`TrackerConfig.online_only() <spermtrack.tracker.config.TrackerConfig.online_only>`
or the ``sperm_online`` preset) the result equals the concatenated output of
``Tracker.update`` over every frame.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from spermtrack.tracker import compiled
from spermtrack.tracker.config import DEFAULT_TRACKER, TrackerConfig, get_config
from spermtrack.tracker.encounters import resolve_encounters
from spermtrack.tracker.offline import (close_gaps, close_long_gaps, finalise_ids, interpolate_gaps, label_positions,
                                        smooth_groups)
from spermtrack.tracker.online import Tracker, canonical_columns, detection_arrays, frame_order, report_filtered

ADDED_COLUMNS: tuple[str, ...] = ("track_id", "confirmed", "x_s", "y_s", "interpolated", "x_det", "y_det", "w_det",
                                   "h_det")
"""Columns :func:`track` may add (an input column of the same name is replaced)."""


def track(detections: pd.DataFrame, config: TrackerConfig | str = DEFAULT_TRACKER, *, fps: float | None = None,
          um_per_px: float | None = None, offline: bool = True, **overrides: Any) -> pd.DataFrame:
    """Track a whole detections table.

    Parameters
    ----------
    detections : pandas.DataFrame
        Detections table: ``frame`` (int, 0-based), ``x``, ``y`` (box centre, px), ``w``,
        ``h`` (px), ``score`` (0-1), ``class_id``; any row order; extra columns are
        carried through. Frames without detections and gaps in the frame numbers are
        fine (every frame from the first to the last is stepped through). Identical rows
        are separate detections: at most one of them can join a given track, the others
        start tracks of their own (remove duplicates upstream).
    config : TrackerConfig or str
        A config or a preset name (``sperm`` default, ``sperm_online``, ``sort``, ``bytetrack``).
    fps, um_per_px : float, optional
        Calibration of the recording; a preset's motion parameters (stated for 50 fps and
        0.351 um/px) are rescaled to it (see :func:`~spermtrack.tracker.config.get_config`).
    offline : bool
        False switches every batch-only step off (``TrackerConfig.online_only()``): the result
        then equals the concatenated output of ``Tracker.update`` over all frames.
    **overrides
        :class:`~spermtrack.tracker.config.TrackerConfig` parameters to change, keyword only;
        a misspelt name raises :class:`~spermtrack.errors.InputError` listing the valid ones.

    Returns
    -------
    pandas.DataFrame
        A new table (the input is not modified): every input row, in input order and with
        its index, contract columns with canonical dtypes, plus

        - ``track_id`` (int64): 1, 2, ...; -1 for rows in no confirmed track;
        - ``confirmed`` (bool): ``track_id >= 0``;
        - ``x_s``, ``y_s`` (float, px; with ``smooth``): RTS-smoothed centre, NaN where
          ``track_id == -1``;
        - ``x_det, y_det, w_det, h_det`` (with ``boxes="filtered"``): the detected box, while
          ``x, y, w, h`` of tracked rows hold the Kalman-filtered one;
        - ``interpolated`` (bool; with ``interpolate``): False for input rows. Rows for
          frames a track missed are appended after the input rows (sorted by track, frame),
          with linearly interpolated ``x, y, w, h``, ``score = 0``, the class of the row before
          the gap, NaN in extra columns (whose dtype may widen, e.g. int to float), and
          integer index labels following the largest integer label of the input.

    Raises
    ------
    InputError
        A bad table (missing column, NaN, negative size or frame, score outside [0, 1]; the
        message names column and row), an unknown preset or parameter, or a bad value.
    """
    cfg = get_config(config, fps=fps, um_per_px=um_per_px, **overrides)
    if not offline:
        cfg = cfg.online_only()
    frame, box, score, cls = detection_arrays(detections)
    cfg = cfg.adapted(score)
    n = len(frame)
    order = frame_order(frame, box, score, cls)
    fs, bs, ss, cs = frame[order], box[order], score[order], cls[order]
    uid, tid, confirmed_uid, filtered = run_online(fs, bs, ss, cs, cfg)
    extra: dict[str, np.ndarray] = {}
    new_rows: dict[str, np.ndarray] | None = None
    if cfg.has_offline_steps:
        tid, extra, new_rows = refine(fs, bs, ss, cs, uid, tid, confirmed_uid, cfg)

    out = detections.copy()
    for col, values in canonical_columns(frame, box, score, cls).items():
        out[col] = values
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    out["track_id"] = tid[back]
    out["confirmed"] = out["track_id"].to_numpy() >= 0
    for col, values in extra.items():
        out[col] = values[back]
    if cfg.boxes == "filtered":
        report_filtered(out, filtered[back], out["track_id"].to_numpy() >= 0)
    if cfg.interpolate:
        out["interpolated"] = False
        if new_rows is not None and len(new_rows["frame"]):
            out = _append_rows(out, new_rows)
    return out


def run_online(frame: np.ndarray, box: np.ndarray, score: np.ndarray, class_id: np.ndarray,
               cfg: TrackerConfig, *, engine: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                     np.ndarray | None]:
    """Run the online engine over detections already sorted by :func:`frame_order`.

    Parameters
    ----------
    frame, box, score, class_id : ndarray
        Detections sorted by frame.
    cfg : TrackerConfig
    engine : {"auto", "compiled", "numpy"}
        ``compiled``: :func:`~spermtrack.tracker.compiled.run_compiled` (numba), for the configs it
        supports; ``numpy``: the streaming :class:`Tracker` stepped frame by frame; ``auto`` (default):
        compiled where numba is installed and the config is supported, else numpy. Both give the same
        tracks (see :mod:`~spermtrack.tracker.compiled`).

    Returns
    -------
    uid : ndarray of int64
        Internal tracklet of each detection (-1: none).
    track_id : ndarray of int64
        Online id (-1 while tentative or untracked).
    confirmed_uid : ndarray of int64
        The tracklets confirmed, in order of confirmation.
    filtered : ndarray, shape (n, 4), or None
        With ``cfg.boxes == "filtered"``: each detection's box after its track's Kalman update.
    """
    if engine not in ("auto", "compiled", "numpy"):
        raise ValueError(f"engine must be 'auto', 'compiled' or 'numpy', got {engine!r}")
    use_compiled = compiled.available() and compiled.supports(cfg)
    if engine == "compiled" and not use_compiled:
        raise ValueError("the compiled engine needs numba and a config it implements (compiled.supports: "
                         "centre cost, no size in the state, a finite gate)")
    tracker = Tracker(cfg)
    if engine != "numpy" and use_compiled and len(frame):
        uid, tid, filtered_xy, confirmed_uid = compiled.run_compiled(frame, box, score, class_id, cfg,
                                                                     tracker.model.Q, tracker.velocity_std)
        filtered = None
        if cfg.boxes == "filtered":
            filtered = box.copy()
            filtered[:, :2] = filtered_xy
        return uid, tid, confirmed_uid, filtered
    n = len(frame)
    uid = np.full(n, -1, dtype=np.int64)
    tid = np.full(n, -1, dtype=np.int64)
    filtered = box.copy() if cfg.boxes == "filtered" else None
    if n == 0:
        return uid, tid, tracker.confirmed_tracklets()[0], filtered
    starts = np.flatnonzero(np.concatenate([[True], frame[1:] != frame[:-1]]))
    ends = np.append(starts[1:], n)
    frames = frame[starts].tolist()
    step = tracker.step
    for f, s, e in zip(frames, starts.tolist(), ends.tolist()):
        uid[s:e], tid[s:e] = step(f, box[s:e], score[s:e], class_id[s:e])
        if filtered is not None:
            filtered[s:e] = tracker.filtered_box
    return uid, tid, tracker.confirmed_tracklets()[0], filtered


def refine(frame: np.ndarray, box: np.ndarray, score: np.ndarray, class_id: np.ndarray, uid: np.ndarray,
           tid: np.ndarray, confirmed_uid: np.ndarray, cfg: TrackerConfig) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                                   dict[str, np.ndarray] | None]:
    """Apply the offline steps the config asks for (see :mod:`~spermtrack.tracker.offline`).

    Parameters
    ----------
    frame, box, score, class_id : ndarray
        Detections sorted by frame.
    uid, tid : ndarray of int64
        Online tracklet and id of each detection.
    confirmed_uid : ndarray of int64
        Tracklets confirmed online.
    cfg : TrackerConfig

    Returns
    -------
    track_id : ndarray of int64
        Final id per detection.
    columns : dict of ndarray
        ``x_s``, ``y_s`` per detection when smoothing.
    new_rows : dict of ndarray or None
        Interpolated rows (``frame, x, y, w, h, score, class_id, track_id, confirmed, x_s, y_s,
        interpolated``) when interpolating.
    """
    xy, wh = box[:, :2], box[:, 2:4]
    long_start = None
    if cfg.gap_closing or cfg.backfill or cfg.min_track_len > 0 or cfg.min_track_score > 0:
        confirmed = np.isin(uid, confirmed_uid)
        chain = uid
        if cfg.gap_closing:
            chain = close_gaps(frame, xy, uid, confirmed, cfg, wh=wh)
            chain, long_start = close_long_gaps(frame, xy, chain, confirmed, cfg, wh=wh)
        confirmed_chain = np.isin(chain, np.unique(chain[confirmed]))
        tid = finalise_ids(frame, chain, tid, confirmed_chain & (chain >= 0), cfg, score=score)
    tid = resolve_encounters(frame, xy, tid, cfg)
    columns: dict[str, np.ndarray] = {}
    dense = None
    if cfg.smooth:
        dense = smooth_groups(frame, xy, tid, cfg)
        columns["x_s"], columns["y_s"] = _lookup(dense, tid, frame)
    new_rows = None
    if cfg.interpolate:
        g, f, values, src = interpolate_gaps(frame, box, tid, skip_after=long_start,
                                             max_gap=cfg.max_interpolated_gap)
        new_rows = {"frame": f, "x": values[:, 0], "y": values[:, 1], "w": values[:, 2], "h": values[:, 3],
                    "score": np.zeros(len(f)), "class_id": class_id[src], "track_id": g,
                    "confirmed": np.ones(len(f), dtype=bool)}
        if dense is not None:
            new_rows["x_s"], new_rows["y_s"] = _lookup(dense, g, f)
        new_rows["interpolated"] = np.ones(len(f), dtype=bool)
    return tid, columns, new_rows


def _lookup(dense: dict[str, np.ndarray], group: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed centre at (group, frame) from :func:`smooth_groups` output; NaN where group == -1."""
    xs = np.full(len(group), np.nan)
    ys = np.full(len(group), np.nan)
    has = group >= 0
    if has.any():
        # dense rows: each group's frames first to last, groups sorted; row of (g, f) = start[g] + f - first[g]
        start = np.flatnonzero(np.diff(dense["group"], prepend=dense["group"][0] - 1))
        gi = label_positions(dense["group"][start], group[has])
        pos = start[gi] + (frame[has] - dense["frame"][start][gi])
        xs[has] = dense["x_s"][pos]
        ys[has] = dense["y_s"][pos]
    return xs, ys


def _append_rows(out: pd.DataFrame, rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Append interpolated rows with integer index labels after the input's."""
    index = out.index
    if pd.api.types.is_integer_dtype(index.dtype):
        start = int(index.max()) + 1 if len(index) else 0
    else:
        start = len(index)
    new = pd.DataFrame({c: rows[c] for c in rows if c in out.columns},
                       index=pd.RangeIndex(start, start + len(rows["frame"])))
    for col in out.columns:
        if col not in new.columns:
            new[col] = np.nan
    return pd.concat([out, new[out.columns]], axis=0)


def explain_no_tracks(detections: pd.DataFrame, tracks: pd.DataFrame, config: TrackerConfig) -> str | None:
    """Why a tracking run returned no track although it had detections; None when it has tracks.

    Parameters
    ----------
    detections : pandas.DataFrame
        The detections table given to the tracker.
    tracks : pandas.DataFrame
        Its result (``track_id``).
    config : TrackerConfig
        The config the tracker ran with.

    Returns
    -------
    str or None
        One sentence for the user (scores below the birth threshold, tracks below the mean score a track
        needs, or nothing confirmed).
    """
    if len(detections) == 0 or (tracks["track_id"].to_numpy() >= 0).any():
        return None
    scores = detections["score"].to_numpy(dtype=np.float64)
    birth = max(config.birth_score, config.low_score)
    if scores.max() < birth:
        return (f"no track: none of the {len(scores)} detections reaches the tracker's birth score {birth:.2f} "
                f"(the highest score is {scores.max():.2f}). Scores of this detector may not be calibrated "
                "(spermtrack's shipped detectors are); lower the birth score (TrackerConfig.birth_score) "
                "or calibrate the detector")
    if config.min_track_score > 0:
        unfiltered = track(detections, replace(config, min_track_score=0.0, track_score_ratio=None))
        kept = unfiltered[unfiltered["track_id"].to_numpy() >= 0]
        if "interpolated" in kept:
            kept = kept[~kept["interpolated"].to_numpy(dtype=bool)]
        if len(kept):
            means = kept.groupby("track_id")["score"].mean()
            return (f"no track: {len(means)} track(s) were found, but none scores {config.min_track_score:.2f} on "
                    f"average (min_track_score; the best track's mean score is {means.max():.2f}). Scores of this "
                    "detector may not be calibrated; lower TrackerConfig.track_score_ratio or min_track_score")
    n_births = int((scores >= birth).sum())
    n_frames = int(detections["frame"].max() - detections["frame"].min()) + 1
    if n_frames < config.min_hits:
        return (f"no track: the video is too short: {n_frames} frame(s) hold detections, and a track needs "
                f"to be seen in {config.min_hits} frames in a row (min_hits)")
    return (f"no track: {n_births} detections could start a track, but none was seen {config.min_hits} times "
            f"in a row within the {config.max_distance:g} px gate (min_hits, max_distance); check the frame "
            "rate and pixel size given, or whether the detections jump between frames")
