"""Online (frame by frame) tracking: the streaming :class:`Tracker`.

Each frame, every live track is predicted with the constant-velocity Kalman filter
(:mod:`~spermtrack.tracker.kalman`, vectorised over all tracks), matched to the
frame's detections by gated linear assignment (:mod:`~spermtrack.tracker.associate`),
and updated. Tracks are plain rows of a few numpy arrays, never Python objects.

Per frame::

    predict all tracks
    stage 1: detections with score >= high_score  <->  all live tracks
    stage 2: detections with low_score <= score < high_score  <->  confirmed tracks left over
             (only with two_stage; ByteTrack, Zhang et al. 2022)
    update matched tracks (after k missed frames, optionally OC-SORT's observation-centric
             re-update, Cao et al. 2023)
    count a miss for unmatched tracks; delete confirmed tracks after more than max_age
             misses (when their mean score reaches the birth score: max(max_age,
             min(confident_max_age, hits))),
             tentative ones after more than tentative_max_age
    unmatched detections with score >= birth_score start tentative tracks
    a track is confirmed at its min_hits-th hit and gets the next track_id (1, 2, ...)

Output rows: every input row comes back, with ``track_id`` (int, >= 1) if the row
belongs to a track that is confirmed at that frame, else ``track_id == -1`` and
``confirmed == False``: detections below ``low_score``, detections left unmatched
(births included) and the first ``min_hits - 1`` hits of a track, which the streaming
tracker cannot relabel afterwards (batch :func:`~spermtrack.tracker.track` back-fills them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.schema import DETECTION_COLUMNS, validate_detections
from spermtrack.tracker.associate import (candidate_pairs, centre_cost, innovation_scale, iou_cost, mahalanobis_cost,
                                          size_cost, solve_pairs, weighted_innovation)
from spermtrack.tracker.config import CONFIDENT_SLACK, DEFAULT_TRACKER, TrackerConfig, get_config
from spermtrack.tracker.kalman import constant_velocity_model, initial_state, predict, update

OUTPUT_COLUMNS: tuple[str, ...] = ("track_id", "confirmed")
"""Columns the streaming tracker adds (an existing column of the same name is replaced); with
``boxes="filtered"`` also ``x_det, y_det, w_det, h_det`` (see :func:`report_filtered`)."""

_I = np.empty(0, dtype=np.int64)


# ---------------------------------------------------------------------------------------------------------------
# tables <-> arrays
# ---------------------------------------------------------------------------------------------------------------
def detection_arrays(detections: Any, *, name: str = "detections") -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                            np.ndarray]:
    """Validate a detections table and return its columns as arrays.

    Parameters
    ----------
    detections : pandas.DataFrame
        ``frame, x, y, w, h, score, class_id`` (see :mod:`spermtrack.schema`).
    name : str
        What to call the table in error messages.

    Returns
    -------
    frame : ndarray of int64, shape (n,)
    box : ndarray of float64, shape (n, 4)
        ``[x, y, w, h]`` (centre and size, px).
    score : ndarray of float64, shape (n,)
    class_id : ndarray of int64, shape (n,)

    Raises
    ------
    InputError
        Not a DataFrame, a missing column, a NaN/inf/non-numeric value, a negative frame,
        size or class, a score outside [0, 1] (the message names column and row, from
        :func:`spermtrack.schema.validate_detections`).
    """
    if not isinstance(detections, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(detections).__name__}")
    try:
        cols = [detections[c] for c in DETECTION_COLUMNS]
        if any(c.ndim != 1 or c.dtype.kind not in "iuf" for c in cols):
            raise TypeError
        values = np.column_stack([c.to_numpy(dtype=np.float64) for c in cols]) if len(detections) else \
            np.empty((0, len(DETECTION_COLUMNS)))
        frame, box, score, cls = values[:, 0], values[:, 1:5], values[:, 5], values[:, 6]
        ok = (np.isfinite(values).all() and (frame >= 0).all() and (frame == np.round(frame)).all()
              and (box[:, 2:] >= 0).all() and ((score >= 0) & (score <= 1)).all() and (cls >= 0).all()
              and (cls == np.round(cls)).all())
        if not ok:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        # slow path: the schema validator names the column and row (or accepts e.g. numeric strings)
        table = validate_detections(detections, name=name)
        values = np.column_stack([table[c].to_numpy(dtype=np.float64) for c in DETECTION_COLUMNS]) \
            if len(table) else np.empty((0, len(DETECTION_COLUMNS)))
        frame, box, score, cls = values[:, 0], values[:, 1:5], values[:, 5], values[:, 6]
    return (frame.astype(np.int64), np.ascontiguousarray(box), np.ascontiguousarray(score),
            cls.astype(np.int64))


def canonical_columns(frame: np.ndarray, box: np.ndarray, score: np.ndarray,
                      class_id: np.ndarray) -> dict[str, np.ndarray]:
    """The contract columns with canonical dtypes (int64 ``frame``/``class_id``, float64 others)."""
    return {"frame": frame, "x": box[:, 0], "y": box[:, 1], "w": box[:, 2], "h": box[:, 3], "score": score,
            "class_id": class_id}


def frame_order(frame: np.ndarray, box: np.ndarray, score: np.ndarray, class_id: np.ndarray) -> np.ndarray:
    """Stable processing order: by frame, then x, y, score, w, h, class_id, then input position.

    Sorting on the values (not the input order) makes the result independent of the order
    of detections within a frame; only exact duplicate rows keep their input order.
    """
    n = len(frame)
    return np.lexsort((np.arange(n), class_id, box[:, 3], box[:, 2], score, box[:, 1], box[:, 0], frame))


def report_filtered(table: pd.DataFrame, filtered: np.ndarray, tracked: np.ndarray) -> None:
    """Put filtered boxes in ``x, y, w, h`` of tracked rows, the detected ones in ``x_det .. h_det`` (in place)."""
    for k, col in enumerate(("x", "y", "w", "h")):
        measured = table[col].to_numpy(dtype=np.float64)
        table[f"{col}_det"] = measured
        table[col] = np.where(tracked, filtered[:, k], measured)


def _largest_eigenvalue(S: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of a batch of symmetric 2 x 2 matrices, shape (N,)."""
    a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
    return (a + c) / 2.0 + np.sqrt(((a - c) / 2.0) ** 2 + b * b)


# ---------------------------------------------------------------------------------------------------------------
# the tracker
# ---------------------------------------------------------------------------------------------------------------
class Tracker:
    """Streaming multi-object tracker: ``update(frame_detections) -> rows with track_id``.

    Parameters
    ----------
    config : TrackerConfig or str
        A config or the name of a preset (``"sperm"``, ``"sperm_online"``, ``"sort"``,
        ``"bytetrack"``). Batch-only steps of the config (gap closing, back-filling,
        smoothing, interpolation, ``min_track_len``) are ignored here.
    fps, um_per_px : float, optional
        Calibration of the recording; a preset's motion parameters are rescaled to it
        (see :func:`~spermtrack.tracker.config.get_config`).
    **overrides
        Parameters of :class:`~spermtrack.tracker.config.TrackerConfig` to change.

    Examples
    --------
    >>> tracker = Tracker("sperm")
    >>> for frame_table in frames:                 # doctest: +SKIP
    ...     rows = tracker.update(frame_table)     # frame_table: one frame's detections
    """

    def __init__(self, config: TrackerConfig | str = DEFAULT_TRACKER, *, fps: float | None = None,
                 um_per_px: float | None = None, **overrides: Any):
        self.config = get_config(config, fps=fps, um_per_px=um_per_px, **overrides)
        cfg = self.config
        self.model = constant_velocity_model(accel_std=cfg.accel_std, measurement_std=cfg.measurement_std,
                                             size_std=cfg.size_std if cfg.size_in_state else None)
        #: Prior standard deviation of a new track's velocity components, px/frame.
        self.velocity_std = cfg.max_speed / 2.0
        self.reset()

    # -- public API -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all tracks and start again (ids restart at 1)."""
        d = self.model.dim_x
        m = self.model.dim_z
        self._x = np.empty((0, d))
        self._P = np.empty((0, d, d))
        self._uid = _I.copy()
        self._tid = _I.copy()
        self._hits = _I.copy()
        self._miss = _I.copy()
        self._score_sum = np.empty(0)
        self._wh = np.empty((0, 2))
        #: Per track: exponentially weighted mean squared innovation per axis, px^2 (``innovation_weight``).
        self._q = np.empty(0)
        self._cls = _I.copy()
        self._x_obs = np.empty((0, d))
        self._P_obs = np.empty((0, d, d))
        self._z_obs = np.empty((0, m))
        self._next_uid = 0
        self._next_tid = 1
        self._frame: int | None = None
        self._confirmed_uid: list[np.ndarray] = []
        self._confirmed_tid: list[np.ndarray] = []
        #: With ``boxes="filtered"``: the last stepped frame's boxes, filtered where a track was updated.
        self.filtered_box = np.empty((0, 4))

    @property
    def frame(self) -> int | None:
        """The last frame processed (``None`` before the first)."""
        return self._frame

    @property
    def n_tracks(self) -> int:
        """Number of live tracks (tentative and confirmed)."""
        return len(self._uid)

    def update(self, detections: pd.DataFrame, *, frame: int | None = None) -> pd.DataFrame:
        """Process one frame.

        Parameters
        ----------
        detections : pandas.DataFrame
            The frame's detections: ``frame, x, y, w, h, score, class_id`` (all rows the same
            frame); extra columns are carried through. May be empty.
        frame : int, optional
            The frame number; required to skip frames with an empty table (default for an
            empty table: the frame after the last one). Frames must increase; skipped frames
            count as frames without detections.

        Returns
        -------
        pandas.DataFrame
            A copy of ``detections`` (same rows, order and index) plus ``track_id`` (int64;
            -1 for rows not in a confirmed track) and ``confirmed`` (bool, ``track_id >= 0``).

        Raises
        ------
        InputError
            Bad table (see :func:`detection_arrays`), rows of several frames, a frame that
            does not match ``frame=`` or does not come after the previous one.
        """
        frames, box, score, cls = detection_arrays(detections)
        if len(frames):
            if (frames != frames[0]).any():
                raise InputError(f"Tracker.update takes one frame at a time; got frames "
                                 f"{sorted(set(frames.tolist()))[:5]} (use spermtrack.tracker.track for a table)")
            if frame is not None and int(frame) != frames[0]:
                raise InputError(f"Tracker.update: frame={frame} but the detections are of frame {frames[0]}")
            f = int(frames[0])
        elif frame is not None:
            if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
                raise InputError(f"Tracker.update: frame must be a non-negative integer; got {frame!r}")
            f = int(frame)
        else:
            f = 0 if self._frame is None else self._frame + 1
        order = frame_order(frames, box, score, cls)
        _, tid = self.step(f, box[order], score[order], cls[order])
        out = detections.copy()
        track_id = np.empty(len(frames), dtype=np.int64)
        track_id[order] = tid
        for col, values in canonical_columns(frames, box, score, cls).items():
            out[col] = values
        out["track_id"] = track_id
        out["confirmed"] = track_id >= 0
        if self.config.boxes == "filtered":
            filtered = np.empty_like(box)
            filtered[order] = self.filtered_box
            report_filtered(out, filtered, track_id >= 0)
        return out

    # -- engine -----------------------------------------------------------------------------------------------
    def step(self, frame: int, box: np.ndarray, score: np.ndarray,
             class_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Process one frame given as arrays (the engine behind :meth:`update` and ``track``).

        Parameters
        ----------
        frame : int
            Frame number, larger than the previous one.
        box : ndarray, shape (n, 4)
            ``[x, y, w, h]`` of the frame's detections, px, in a canonical order
            (see :func:`frame_order`) for order-independent results.
        score : ndarray, shape (n,)
        class_id : ndarray of int, shape (n,)

        Returns
        -------
        uid : ndarray of int64, shape (n,)
            Internal tracklet id of each detection's track, tentative or confirmed (-1: none).
        track_id : ndarray of int64, shape (n,)
            Public id if the track is confirmed at this frame, else -1.
        """
        if self._frame is not None:
            if frame <= self._frame:
                raise InputError(f"Tracker.update: frame {frame} does not come after frame {self._frame} "
                                 f"(call reset() to start a new video)")
            f = self._frame + 1
            while f < frame and len(self._uid):  # frames without detections
                self._step(f, np.empty((0, 4)), np.empty(0), _I)
                f += 1
        return self._step(frame, box, score, class_id)

    def _step(self, frame: int, box: np.ndarray, score: np.ndarray,
              class_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        self._frame = frame
        n = len(box)
        uid_out = np.full(n, -1, dtype=np.int64)
        tid_out = np.full(n, -1, dtype=np.int64)
        n_tracks = len(self._uid)
        if n_tracks:
            self._x, self._P = predict(self._x, self._P, self.model)
        mt = md = _I
        if n_tracks and n:
            usable = score >= cfg.low_score
            if cfg.two_stage:
                high = usable & (score >= cfg.high_score)
                low = usable & ~high
            else:
                high, low = usable, None
            det_high = np.flatnonzero(high)
            mt, md = self._associate(np.arange(n_tracks), det_high, box, class_id, 1.0)
            if low is not None and low.any():
                free = np.ones(n_tracks, dtype=bool)
                free[mt] = False
                rest = np.flatnonzero(free & (self._tid >= 0))
                if rest.size:
                    mt2, md2 = self._associate(rest, np.flatnonzero(low), box, class_id, cfg.low_gate_scale)
                    mt = np.concatenate([mt, mt2])
                    md = np.concatenate([md, md2])
        if mt.size:
            self._correct(mt, md, box, score, class_id)
        if cfg.boxes == "filtered":
            self.filtered_box = box.copy()
            if mt.size:
                self.filtered_box[md, :2] = self._x[mt, :2]
                if cfg.size_in_state:
                    self.filtered_box[md, 2:] = np.maximum(self._x[mt, 4:6], 0.0)
        if n_tracks:
            matched = np.zeros(n_tracks, dtype=bool)
            matched[mt] = True
            self._miss[~matched] += 1
            uid_out[md] = self._uid[mt]
            tid_out[md] = self._tid[mt]
            alive = self._miss <= self._max_age()
            if not alive.all():
                self._keep(alive)
        if n:
            free = score >= cfg.birth_threshold
            free[md] = False
            born = np.flatnonzero(free)
            if born.size:
                uid_out[born], tid_out[born] = self._birth(born, box, score, class_id)
        return uid_out, tid_out

    def _associate(self, tracks: np.ndarray, dets: np.ndarray, box: np.ndarray, class_id: np.ndarray,
                   scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Match ``tracks`` (indices of live tracks) to ``dets`` (indices of detections).

        ``scale`` (<= 1) shrinks the gate (the second, low-score stage).
        """
        if tracks.size == 0 or dets.size == 0:
            return _I, _I
        cfg = self.config
        txy = self._x[tracks, :2]
        dbox = box[dets]
        if cfg.cost == "centre":
            gate = (cfg.max_distance + cfg.gate_growth * self._miss[tracks]) * scale
            i, j, dist = candidate_pairs(txy, dbox[:, :2], gate)
            cost, ok = centre_cost(dist, i, gate)
            reach = gate ** 2  # the largest cost of a pair inside each track's gate
            if cfg.innovation_weight > 0:
                scale_q = innovation_scale(self._q[tracks], cfg)
                cost = cost * scale_q[i]
                reach = reach * scale_q
            limit = float(reach.max()) * (1.0 + cfg.size_weight)
            if cfg.size_weight > 0:
                cost = cost + cfg.size_weight * size_cost(self._wh[tracks][i], dbox[j, 2:])
        elif cfg.cost == "mahalanobis":
            S = self._S(tracks)
            gate2 = cfg.mahalanobis_gate * scale ** 2
            radius = np.sqrt(gate2 * _largest_eigenvalue(S))
            i, j, _ = candidate_pairs(txy, dbox[:, :2], radius)
            cost, ok = mahalanobis_cost(txy, dbox[:, :2], np.linalg.inv(S), i, j, gate2)
            limit = float(np.sqrt(gate2))
        else:
            twh = self._x[tracks, 4:6] if cfg.size_in_state else self._wh[tracks]
            tbox = np.concatenate([txy, np.maximum(twh, 0.0)], axis=1)
            half = (tbox[:, 2:] + dbox[:, 2:].max(axis=0)) / 2.0
            i, j, _ = candidate_pairs(txy, dbox[:, :2], np.hypot(half[:, 0], half[:, 1]))
            limit = (1.0 - cfg.iou_threshold) * scale
            cost, ok = iou_cost(tbox, dbox, i, j, 1.0 - limit)
        if cfg.class_aware:
            ok &= self._cls[tracks][i] == class_id[dets][j]
        i, j, cost = i[ok], j[ok], cost[ok]
        # the limit sits just above the largest allowed cost, so every allowed pair can be chosen
        rows, cols = solve_pairs(i, j, cost, limit * (1.0 + 1e-9) + 1e-12)
        return tracks[rows], dets[cols]

    def _S(self, tracks: np.ndarray) -> np.ndarray:
        """Innovation covariance of the predicted centre, ``H P H' + R`` restricted to x, y."""
        return self._P[tracks][:, :2, :2] + self.model.R[:2, :2]

    def _measure(self, box: np.ndarray) -> np.ndarray:
        return box if self.config.size_in_state else box[:, :2]

    def _max_age(self) -> np.ndarray:
        """Missed frames each live track survives: tentative, confirmed, or confirmed and confident."""
        cfg = self.config
        limit = np.where(self._tid >= 0, cfg.max_age, cfg.tentative_max_age)
        if cfg.confident_max_age is not None:
            threshold = cfg.birth_threshold - CONFIDENT_SLACK
            confident = (self._tid >= 0) & (self._score_sum / self._hits >= threshold)
            limit[confident] = np.maximum(cfg.max_age, np.minimum(cfg.confident_max_age, self._hits[confident]))
        return limit

    def _correct(self, mt: np.ndarray, md: np.ndarray, box: np.ndarray, score: np.ndarray,
                 class_id: np.ndarray) -> None:
        """Kalman update of matched tracks ``mt`` with detections ``md``; bookkeeping."""
        z = self._measure(box[md])
        if self.config.innovation_weight > 0:
            fresh = self._miss[mt] == 0  # found in consecutive frames: the innovation measures the track's noise
            self._q[mt[fresh]] = weighted_innovation(self._q[mt[fresh]], z[fresh, :2] - self._x[mt[fresh], :2],
                                                     self.config.innovation_weight)
        x, P = update(self._x[mt], self._P[mt], z, self.model)
        if self.config.observation_recovery:
            lost = self._miss[mt]
            for k in np.unique(lost[lost > 0]):
                sel = np.flatnonzero(lost == k)
                x[sel], P[sel] = self._recover(mt[sel], z[sel], int(k))
        self._x[mt] = x
        self._P[mt] = P
        self._x_obs[mt] = x
        self._P_obs[mt] = P
        self._z_obs[mt] = z
        self._wh[mt] = box[md, 2:]
        self._cls[mt] = class_id[md]
        self._hits[mt] += 1
        self._score_sum[mt] += score[md]
        self._miss[mt] = 0
        new = mt[(self._tid[mt] < 0) & (self._hits[mt] >= self.config.min_hits)]
        if new.size:
            new = np.sort(new)
            self._tid[new] = np.arange(self._next_tid, self._next_tid + new.size)
            self._next_tid += new.size
            self._confirmed_uid.append(self._uid[new])
            self._confirmed_tid.append(self._tid[new])

    def _recover(self, tracks: np.ndarray, z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """OC-SORT re-update: from the last observation, k virtual observations on the line to ``z``."""
        x, P = self._x_obs[tracks], self._P_obs[tracks]
        z0 = self._z_obs[tracks]
        for step in range(1, k + 2):
            x, P = predict(x, P, self.model)
            x, P = update(x, P, z0 + (z - z0) * (step / (k + 1)), self.model)
        return x, P

    def _keep(self, keep: np.ndarray) -> None:
        for name in ("_x", "_P", "_uid", "_tid", "_hits", "_miss", "_score_sum", "_wh", "_q", "_cls", "_x_obs",
                     "_P_obs", "_z_obs"):
            setattr(self, name, getattr(self, name)[keep])

    def _birth(self, dets: np.ndarray, box: np.ndarray, score: np.ndarray,
               class_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks from detections ``dets``; returns their uids and track ids (-1 if tentative)."""
        n = dets.size
        z = self._measure(box[dets])
        x, P = initial_state(z, self.model, velocity_std=self.velocity_std)
        uid = np.arange(self._next_uid, self._next_uid + n, dtype=np.int64)
        self._next_uid += n
        tid = np.full(n, -1, dtype=np.int64)
        if self.config.min_hits <= 1:
            tid = np.arange(self._next_tid, self._next_tid + n, dtype=np.int64)
            self._next_tid += n
            self._confirmed_uid.append(uid)
            self._confirmed_tid.append(tid)
        self._x = np.concatenate([self._x, x])
        self._P = np.concatenate([self._P, P])
        self._uid = np.concatenate([self._uid, uid])
        self._tid = np.concatenate([self._tid, tid])
        self._hits = np.concatenate([self._hits, np.ones(n, dtype=np.int64)])
        self._miss = np.concatenate([self._miss, np.zeros(n, dtype=np.int64)])
        self._score_sum = np.concatenate([self._score_sum, score[dets]])
        self._wh = np.concatenate([self._wh, box[dets, 2:]])
        self._q = np.concatenate([self._q, np.full(n, self.config.measurement_std ** 2)])
        self._cls = np.concatenate([self._cls, class_id[dets]])
        self._x_obs = np.concatenate([self._x_obs, x])
        self._P_obs = np.concatenate([self._P_obs, P])
        self._z_obs = np.concatenate([self._z_obs, z])
        return uid, tid

    def confirmed_tracklets(self) -> tuple[np.ndarray, np.ndarray]:
        """``(uid, track_id)`` of every tracklet confirmed so far, in order of confirmation."""
        if not self._confirmed_uid:
            return _I.copy(), _I.copy()
        return np.concatenate(self._confirmed_uid), np.concatenate(self._confirmed_tid)
