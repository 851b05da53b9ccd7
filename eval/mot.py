"""Multi-object tracking metrics: CLEAR MOT, identity (IDF1) and HOTA.

CLEAR MOT and identity metrics come from py-motmetrics' event accumulator
(``motmetrics.MOTAccumulator``), HOTA from TrackEval's metric class
(``trackeval.metrics.HOTA``), both fed with in-memory arrays built here: frames are
grouped with one numpy sort and the per-frame matrices are computed vectorised
(motmetrics' own ``iou_matrix`` fails on numpy 2).

Inputs are tracks tables (:mod:`spermtrack.schema`): ``frame`` (0-based), ``track_id``,
``x``, ``y`` (box centre, px) and, for ``metric="iou"``, ``w``, ``h``. Other columns are
ignored except the ground truth's optional ``consider`` column.

Conventions
-----------
- **Pairing.** ``metric="centre"`` (sperm): two boxes may pair when their centres are at
  most ``gate`` px apart (default 10 px); the motmetrics distance is the centre distance
  in px, and the HOTA similarity is ``S = max(0, 1 - d / gate)``. HOTA averages over
  localisation thresholds ``alpha = 0.05, 0.10, ..., 0.95`` of ``S``, i.e. centre
  distances up to ``(1 - alpha) * gate``. ``metric="iou"`` (MOTChallenge): pairs need
  ``IoU >= gate`` (default 0.5); the motmetrics distance is ``1 - IoU`` and the HOTA
  similarity is ``IoU``.
- **MOTP** is motmetrics' mean distance of matched pairs: px for ``"centre"``,
  ``1 - IoU`` for ``"iou"`` (lower is better).
- **Unconfirmed predictions** (``track_id < 0``) are dropped before scoring.
- **Distractors.** Ground-truth rows with ``consider == 0`` (MOTChallenge ``gt.txt``
  column 7) are "don't care": in each frame predictions are paired one-to-one with all
  ground truth (gated as above); predictions paired with a distractor are removed, then
  the distractor rows are removed. This is the MOT16/17 devkit rule (TrackEval's
  ``MotChallenge2DBox`` preprocessing, motmetrics' ``preprocessResult``) with
  ``consider == 0`` in the role of the distractor classes. The bundled TUD data has no
  such rows; their published numbers are reproduced exactly.
- **Frames.** Without ``n_frames`` a sequence spans frames ``0 .. max(frame)`` of both
  tables: predictions in frames beyond the ground truth's last frame are scored as
  false positives (ground truth there is empty). With ``n_frames``, a frame
  ``>= n_frames`` in either table raises :class:`~spermtrack.errors.InputError`.
- **Undefined metrics are NaN**, never a silent 0 or 1: e.g. with no ground truth,
  MOTA, recall and IDR are NaN (their denominator is the number of ground-truth boxes);
  with no predictions, precision and IDP are NaN; AssA and LocA are NaN when no pair
  matches at any alpha. HOTA itself is ``sqrt(sum_TP A(c) / (TP + FN + FP))`` and so is 0
  (not NaN) when there are boxes but no matches.

References
----------
Bernardin, K. & Stiefelhagen, R. (2008). Evaluating multiple object tracking
performance: the CLEAR MOT metrics. EURASIP J. Image Video Process., 246309.

Ristani, E., Solera, F., Zou, R., Cucchiara, R. & Tomasi, C. (2016). Performance
measures and a data set for multi-target, multi-camera tracking. ECCV Workshops.

Luiten, J., Osep, A., Dendorfer, P., Torr, P., Geiger, A., Leal-Taixé, L. & Leibe, B.
(2021). HOTA: A higher order metric for evaluating multi-object tracking. IJCV 129, 548-578.

Li, Y., Huang, C. & Nevatia, R. (2009). Learning to associate: HybridBoosted multi-target
tracker for crowded scene. CVPR (MT/PT/ML, fragmentations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

from .detection import (_numeric, _ratio, _rows, _table, _where, assign_gated, box_iou, centre_distances, frame_slices,
                        match_centres)

__all__ = [
    "METRICS", "clear_metrics", "distance_matrix", "evaluate_sequences", "hota_metrics", "mot_metrics",
    "oracle_tracks", "similarity_matrix",
]

_METRIC_NAMES = ("centre", "iou")
_DEFAULT_GATE = {"centre": 10.0, "iou": 0.5}

#: Keys of :func:`mot_metrics`' result, in order.
METRICS: tuple[str, ...] = (
    "MOTA", "MOTP", "MODA", "IDF1", "IDP", "IDR", "IDSW", "FP", "FN", "TP", "MT", "PT", "ML", "FRAG",
    "num_gt", "num_pred", "num_gt_ids", "num_pred_ids", "num_frames", "precision", "recall",
    "IDTP", "IDFP", "IDFN",
)
_HOTA_KEYS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")

# motmetrics metric name -> our count name (all are sums over sequences when combining)
_MM_COUNTS: dict[str, str] = {
    "num_detections": "TP", "num_switches": "IDSW", "num_false_positives": "FP", "num_misses": "FN",
    "num_objects": "num_gt", "num_predictions": "num_pred", "num_unique_objects": "num_gt_ids",
    "mostly_tracked": "MT", "partially_tracked": "PT", "mostly_lost": "ML", "num_fragmentations": "FRAG",
    "idtp": "IDTP", "idfp": "IDFP", "idfn": "IDFN", "num_frames": "num_frames",
}


# ----------------------------------------------------------------------------------------------------------------------
# Pair matrices
# ----------------------------------------------------------------------------------------------------------------------
def _resolve(metric: str, gate: float | None) -> tuple[str, float]:
    if metric not in _METRIC_NAMES:
        raise InputError(f"metric must be one of {', '.join(_METRIC_NAMES)}; got {metric!r}")
    gate = _DEFAULT_GATE[metric] if gate is None else gate
    if not isinstance(gate, (int, float, np.integer, np.floating)) or not np.isfinite(gate) or gate <= 0:
        raise InputError(f"gate must be a positive finite number, got {gate!r}")
    if metric == "iou" and gate > 1:
        raise InputError(f"for metric='iou' the gate is the minimum IoU, within (0, 1]; got {gate!r}")
    return metric, float(gate)


def _pair_matrices(gt: np.ndarray, hyp: np.ndarray, metric: str, gate: float) -> tuple[np.ndarray, np.ndarray]:
    """Motmetrics distances (NaN = cannot pair) and HOTA similarities of one frame."""
    if metric == "centre":
        d = centre_distances(gt, hyp)
        return np.where(d > gate, np.nan, d), np.clip(1.0 - d / gate, 0.0, 1.0)
    iou = box_iou(gt, hyp)
    return np.where(iou < gate, np.nan, 1.0 - iou), iou


def distance_matrix(gt: np.ndarray, hyp: np.ndarray, *, metric: str = "centre",
                    gate: float | None = None) -> np.ndarray:
    """Motmetrics-style distance matrix between ground-truth and hypothesis boxes.

    Parameters
    ----------
    gt : numpy.ndarray, shape (N, 4)
        Ground-truth boxes ``x, y, w, h`` with ``x, y`` the box centre (px). For
        ``metric="centre"`` only the first two columns are used.
    hyp : numpy.ndarray, shape (M, 4)
        Hypothesis boxes, same layout.
    metric : {"centre", "iou"}
        ``"centre"``: ``D = ||c_gt - c_hyp||_2`` in px, NaN when ``D > gate``.
        ``"iou"``: ``D = 1 - IoU``, NaN when ``IoU < gate``.
    gate : float, optional
        Centre-distance gate in px (default 10) or minimum IoU (default 0.5).

    Returns
    -------
    numpy.ndarray, shape (N, M)
        Distances; NaN marks pairs that cannot be matched (motmetrics convention).
    """
    metric, gate = _resolve(metric, gate)
    return _pair_matrices(_as_boxes(gt, metric), _as_boxes(hyp, metric), metric, gate)[0]


def similarity_matrix(gt: np.ndarray, hyp: np.ndarray, *, metric: str = "centre",
                      gate: float | None = None) -> np.ndarray:
    """HOTA similarity matrix in [0, 1] between ground-truth and hypothesis boxes.

    Parameters
    ----------
    gt, hyp : numpy.ndarray, shape (N, 4) and (M, 4)
        Boxes ``x, y, w, h`` with ``x, y`` the centre (px).
    metric : {"centre", "iou"}
        ``"centre"``: ``S = max(0, 1 - d / gate)`` with ``d`` the centre distance, so
        ``S = 1`` at coincident centres and ``S = 0`` at ``gate`` px or more (the form
        TrackEval uses for 3-D points, with ``zero_distance = gate``).
        ``"iou"``: ``S = IoU``.
    gate : float, optional
        Centre gate in px (default 10); unused for ``"iou"`` (IoU needs no scale).

    Returns
    -------
    numpy.ndarray, shape (N, M)
        Similarities in [0, 1].
    """
    metric, gate = _resolve(metric, gate)
    return _pair_matrices(_as_boxes(gt, metric), _as_boxes(hyp, metric), metric, gate)[1]


def _as_boxes(a: np.ndarray, metric: str) -> np.ndarray:
    return _rows(a, 2 if metric == "centre" else 4)


# ----------------------------------------------------------------------------------------------------------------------
# Input tables
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tracks:
    """Columns of a checked tracks table as arrays."""

    frame: np.ndarray  # int64
    track_id: np.ndarray  # int64
    boxes: np.ndarray  # (N, 4) float64: x, y, w, h (w = h = 0 when not needed)

    def take(self, mask: np.ndarray) -> _Tracks:
        return _Tracks(self.frame[mask], self.track_id[mask], self.boxes[mask])


def _tracks(df: pd.DataFrame, name: str, metric: str, *, drop_unconfirmed: bool) -> tuple[_Tracks, np.ndarray]:
    """Check a tracks table; return its arrays and the ``consider == 0`` (distractor) mask."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    needed = ("frame", "track_id", "x", "y") + (("w", "h") if metric == "iou" else ())
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(f"{name} is missing column(s) {', '.join(missing)}; a tracks table needs "
                         f"{', '.join(needed)}")
    frame = _numeric(df, "frame", name, integer=True)
    track_id = _numeric(df, "track_id", name, integer=True)
    cols = [_numeric(df, c, name, integer=False) for c in ("x", "y")]
    if metric == "iou":
        cols += [_numeric(df, c, name, integer=False) for c in ("w", "h")]
    else:
        cols += [np.zeros(len(df)), np.zeros(len(df))]
    boxes = np.column_stack(cols) if len(df) else np.zeros((0, 4))
    if (frame < 0).any():
        pos = int(np.flatnonzero(frame < 0)[0])
        raise InputError(f"{name} column 'frame' must be >= 0 (frames are 0-based); row {pos} is {frame[pos]}")
    distractor = np.zeros(len(df), dtype=bool)
    if "consider" in df.columns:
        distractor = _numeric(df, "consider", name, integer=False) == 0
    keep = track_id >= 0 if drop_unconfirmed else np.ones(len(df), dtype=bool)
    rows = np.flatnonzero(keep)
    tracks = _Tracks(frame, track_id, boxes).take(rows)
    _check_unique(tracks, rows, df, name)
    return tracks, distractor[rows]


def _check_unique(tracks: _Tracks, rows: np.ndarray, df: pd.DataFrame, name: str) -> None:
    """Raise if a ``(frame, track_id)`` pair occurs twice, naming the second row."""
    if len(rows) < 2:
        return
    order = np.lexsort((rows, tracks.track_id, tracks.frame))
    same = (np.diff(tracks.frame[order]) == 0) & (np.diff(tracks.track_id[order]) == 0)
    if same.any():
        dup = order[1:][same]
        k = int(dup[np.argmin(rows[dup])])
        pos = int(rows[k])
        raise InputError(f"{name} has track_id {tracks.track_id[k]} twice in frame {tracks.frame[k]}: "
                         f"{_where(df, pos)} repeats an earlier row")


def _drop_distractors(gt: _Tracks, distractor: np.ndarray, pred: _Tracks, metric: str,
                      gate: float) -> tuple[_Tracks, _Tracks]:
    """Remove predictions paired with ``consider == 0`` ground truth, then those rows."""
    if not distractor.any():
        return gt, pred
    keep_pred = np.ones(len(pred.frame), dtype=bool)
    g_order, g_frames, g_starts, g_ends = frame_slices(gt.frame)
    p_order, p_frames, p_starts, p_ends = frame_slices(pred.frame)
    for f in np.unique(gt.frame[distractor]):
        k = np.searchsorted(p_frames, f)
        if k == len(p_frames) or p_frames[k] != f:
            continue
        rp = p_order[p_starts[k]:p_ends[k]]
        kg = np.searchsorted(g_frames, f)
        rg = g_order[g_starts[kg]:g_ends[kg]]
        dist, _ = _pair_matrices(gt.boxes[rg], pred.boxes[rp], metric, gate)
        i, j = assign_gated(dist)
        keep_pred[rp[j[distractor[rg[i]]]]] = False
    return gt.take(~distractor), pred.take(keep_pred)


# ----------------------------------------------------------------------------------------------------------------------
# Scoring one sequence
# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _SequenceScore:
    """Raw, combinable results of one sequence."""

    counts: dict[str, float]  # motmetrics counts (+ MOTP_sum), summed across sequences
    hota: dict[str, Any] | None  # trackeval HOTA result dict (per-alpha arrays)


def _score_sequence(gt_df: pd.DataFrame, pred_df: pd.DataFrame, *, metric: str, gate: float, hota: bool,
                    n_frames: int | None) -> _SequenceScore:
    import motmetrics  # noqa: PLC0415 - heavy imports kept out of module import

    gt, distractor = _tracks(gt_df, "gt", metric, drop_unconfirmed=False)
    pred, _ = _tracks(pred_df, "pred", metric, drop_unconfirmed=True)
    last = max(int(gt.frame.max(initial=-1)), int(pred.frame.max(initial=-1)))
    if n_frames is not None:
        if not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
            raise InputError(f"n_frames must be a non-negative integer, got {n_frames!r}")
        for name, t in (("gt", gt), ("pred", pred)):
            if (t.frame >= n_frames).any():
                bad = int(t.frame[t.frame >= n_frames][0])
                raise InputError(f"{name} has frame {bad}, outside the video's frames 0..{n_frames - 1} "
                                 f"(n_frames={n_frames})")
        last = n_frames - 1
    gt, pred = _drop_distractors(gt, distractor, pred, metric, gate)

    # contiguous ids for TrackEval; original ids for motmetrics
    gt_uid, gt_idx = np.unique(gt.track_id, return_inverse=True)
    pr_uid, pr_idx = np.unique(pred.track_id, return_inverse=True)
    n_t = last + 1
    go, g_start = _by_frame(gt.frame, n_t)
    po, p_start = _by_frame(pred.frame, n_t)

    acc = motmetrics.MOTAccumulator()
    gt_ids_t, pr_ids_t, sims_t = [], [], []
    for t in range(n_t):
        rg = go[g_start[t]:g_start[t + 1]]
        rp = po[p_start[t]:p_start[t + 1]]
        dist, sim = _pair_matrices(gt.boxes[rg], pred.boxes[rp], metric, gate)
        gt_ids_t.append(gt_idx[rg])
        pr_ids_t.append(pr_idx[rp])
        sims_t.append(sim)
        if rg.size or rp.size:
            acc.update(gt.track_id[rg], pred.track_id[rp], dist, frameid=t)

    counts = _motmetrics_counts(acc, motmetrics, empty=len(gt.frame) + len(pred.frame) == 0)
    counts["num_pred_ids"] = float(len(pr_uid))
    hota_res = None
    if hota:
        data = {
            "num_timesteps": n_t, "num_gt_ids": len(gt_uid), "num_tracker_ids": len(pr_uid),
            "num_gt_dets": len(gt.frame), "num_tracker_dets": len(pred.frame),
            "gt_ids": gt_ids_t, "tracker_ids": pr_ids_t, "similarity_scores": sims_t,
        }
        hota_res = _trackeval_hota(data)
    return _SequenceScore(counts, hota_res)


def _by_frame(frames: np.ndarray, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by frame and the start of each frame: rows of ``t`` are ``order[start[t]:start[t + 1]]``."""
    order = np.argsort(frames, kind="stable")
    start = np.concatenate([[0], np.cumsum(np.bincount(frames, minlength=n_t))]).astype(np.int64)
    return order, start


def _motmetrics_counts(acc: Any, motmetrics: Any, *, empty: bool) -> dict[str, float]:
    """Counts of one accumulator (plus the summed match distance for MOTP)."""
    counts = {v: 0.0 for v in _MM_COUNTS.values()}
    counts["MOTP_sum"] = 0.0
    if empty:  # no box at all: the accumulator has no events to summarise
        return counts
    mh = motmetrics.metrics.create()
    res = mh.compute(acc, metrics=list(_MM_COUNTS), return_dataframe=False)
    counts.update({ours: float(res[theirs]) for theirs, ours in _MM_COUNTS.items()})
    events = acc.mot_events
    matched = events["Type"].isin(["MATCH", "SWITCH"]).to_numpy()
    counts["MOTP_sum"] = float(events["D"].to_numpy()[matched].sum())
    return counts


def _trackeval_hota(data: dict[str, Any]) -> dict[str, Any]:
    import trackeval  # noqa: PLC0415

    return trackeval.metrics.HOTA().eval_sequence(data)


# ----------------------------------------------------------------------------------------------------------------------
# Final metrics from counts
# ----------------------------------------------------------------------------------------------------------------------
def clear_metrics(c: Mapping[str, float]) -> dict[str, float]:
    """CLEAR MOT and identity metrics from summed counts.

    Parameters
    ----------
    c : mapping
        Counts: ``TP`` (matches incl. switches), ``FP``, ``FN``, ``IDSW``, ``num_gt``
        (ground-truth boxes), ``num_pred``, ``MOTP_sum`` (summed match distance),
        ``IDTP``, ``IDFP``, ``IDFN`` and the rest passed through.

    Returns
    -------
    dict
        ``MOTA = 1 - (FN + FP + IDSW) / num_gt`` and ``MODA = 1 - (FN + FP) / num_gt``,
        ``MOTP = MOTP_sum / TP`` (Bernardin & Stiefelhagen 2008);
        ``IDP = IDTP / (IDTP + IDFP)``, ``IDR = IDTP / (IDTP + IDFN)``,
        ``IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN)`` (Ristani et al. 2016, global
        one-to-one id assignment); ``precision = TP / num_pred``, ``recall = TP / num_gt``.
        Counts are returned as floats. Undefined ratios are NaN.
    """
    out = {k: float(c[k]) for k in _MM_COUNTS.values()}
    n_gt, n_pred = c["num_gt"], c["num_pred"]
    out.update({
        "MOTA": 1.0 - _ratio(c["FN"] + c["FP"] + c["IDSW"], n_gt),
        "MODA": 1.0 - _ratio(c["FN"] + c["FP"], n_gt),
        "MOTP": _ratio(c["MOTP_sum"], c["TP"]),
        "IDP": _ratio(c["IDTP"], c["IDTP"] + c["IDFP"]),
        "IDR": _ratio(c["IDTP"], c["IDTP"] + c["IDFN"]),
        "IDF1": _ratio(2 * c["IDTP"], 2 * c["IDTP"] + c["IDFP"] + c["IDFN"]),
        "precision": _ratio(c["TP"], n_pred),
        "recall": _ratio(c["TP"], n_gt),
        "num_pred_ids": float(c["num_pred_ids"]),
    })
    return out


def hota_metrics(res: Mapping[str, Any], *, num_gt: float, num_pred: float) -> dict[str, float]:
    """HOTA and its sub-metrics from a TrackEval HOTA result, averaged over alpha.

    For each localisation threshold ``alpha`` in 0.05, 0.10, ..., 0.95, pairs with
    similarity ``S >= alpha`` are matched (Hungarian, maximising association-weighted
    similarity), and with ``A(c) = |TPA(c)| / (|TPA(c)| + |FNA(c)| + |FPA(c)|)``:

    ``DetA = |TP| / (|TP| + |FN| + |FP|)``, ``AssA = (1/|TP|) sum_{c in TP} A(c)``,
    ``HOTA_alpha = sqrt(DetA * AssA) = sqrt(sum_{c in TP} A(c) / (|TP| + |FN| + |FP|))``,
    ``LocA = (1/|TP|) sum_{c in TP} S(c)``; each reported value is the mean over alpha
    (Luiten et al. 2021; TrackEval's implementation, whose per-alpha convention is kept:
    AssA = 0 at an alpha with no matches).

    Parameters
    ----------
    res : mapping
        ``trackeval.metrics.HOTA`` result (per-alpha arrays ``HOTA``, ``DetA``, ...,
        ``HOTA_TP``).
    num_gt, num_pred : float
        Numbers of ground-truth and predicted boxes, to tell undefined cases apart.

    Returns
    -------
    dict
        ``HOTA``, ``DetA``, ``AssA``, ``LocA``, ``DetRe``, ``DetPr``, ``AssRe``, ``AssPr``.
        All NaN when both tables are empty; ``AssA``, ``AssRe``, ``AssPr`` and ``LocA``
        NaN when nothing matches at any alpha; ``DetRe`` NaN without ground truth,
        ``DetPr`` NaN without predictions.
    """
    out = {k: float(np.mean(res[k])) for k in _HOTA_KEYS}
    nan = float("nan")
    if num_gt + num_pred == 0:
        return dict.fromkeys(_HOTA_KEYS, nan)
    if float(np.sum(res["HOTA_TP"])) == 0:
        out.update(dict.fromkeys(("AssA", "AssRe", "AssPr", "LocA"), nan))
    if num_gt == 0:
        out["DetRe"] = nan
    if num_pred == 0:
        out["DetPr"] = nan
    return out


def _finalise(score: _SequenceScore, counts: Mapping[str, float] | None = None) -> dict[str, float]:
    c = dict(score.counts if counts is None else counts)
    out = clear_metrics(c)
    if score.hota is not None:
        out.update(hota_metrics(score.hota, num_gt=c["num_gt"], num_pred=c["num_pred"]))
    keys = METRICS + (_HOTA_KEYS if score.hota is not None else ())
    return {k: out[k] for k in keys}


# ----------------------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------------------
def mot_metrics(
    gt: pd.DataFrame,
    pred: pd.DataFrame,
    *,
    metric: str = "centre",
    gate: float | None = None,
    hota: bool = True,
    n_frames: int | None = None,
) -> dict[str, float]:
    """CLEAR MOT, identity and HOTA metrics of one video (sequence).

    Parameters
    ----------
    gt : pandas.DataFrame
        Ground-truth tracks: ``frame`` (0-based), ``track_id``, ``x``, ``y`` (centre, px),
        and ``w``, ``h`` for ``metric="iou"``; optional ``consider`` (0 = distractor,
        see the module notes).
    pred : pandas.DataFrame
        Predicted tracks, same columns; rows with ``track_id < 0`` (unconfirmed) are
        dropped before scoring. Ids need not match the ground truth's in any way.
    metric : {"centre", "iou"}
        How boxes pair: centre distance (sperm) or IoU (MOTChallenge).
    gate : float, optional
        ``"centre"``: largest centre distance in px that may pair (default 10).
        ``"iou"``: smallest IoU that may pair (default 0.5).
    hota : bool
        Also compute HOTA, DetA, AssA, LocA, DetRe, DetPr, AssRe, AssPr (TrackEval).
    n_frames : int, optional
        Number of frames of the video; frames outside ``0 .. n_frames - 1`` are an error.
        Without it, predictions after the last ground-truth frame count as false positives.

    Returns
    -------
    dict
        Keys :data:`METRICS` (plus the HOTA keys when ``hota``):

        - ``MOTA = 1 - (FN + FP + IDSW) / num_gt``, ``MODA = 1 - (FN + FP) / num_gt``,
          ``MOTP`` = mean distance of matched pairs (px for ``"centre"``, ``1 - IoU`` for
          ``"iou"``) (Bernardin & Stiefelhagen 2008, matched per frame with
          motmetrics: correspondences from earlier frames are kept while still within
          the gate, the rest by the Hungarian algorithm).
        - ``TP`` (matches, switches included), ``FP``, ``FN``, ``IDSW`` (a ground-truth
          track matched to another prediction id than at its previous match),
          ``FRAG`` (a ground-truth track going from matched to missed while it is
          present, between its first and last match), ``MT``/``PT``/``ML``
          (ground-truth tracks matched in >= 80 %, 20-80 %, < 20 % of their frames)
          (Li et al. 2009). These follow motmetrics; TrackEval differs in three
          conventions (MT needs > 80 %; FRAG treats frames without any prediction and
          frames where the object is absent otherwise; matching prefers the previous
          frame's pairs only, not older ones), so its IDSW, FRAG,
          MT and PT can differ slightly on the same data.
        - ``IDF1``, ``IDP``, ``IDR``, ``IDTP``, ``IDFP``, ``IDFN`` (Ristani et al. 2016).
        - ``precision = TP / num_pred``, ``recall = TP / num_gt``; ``num_gt``,
          ``num_pred`` (boxes scored), ``num_gt_ids``, ``num_pred_ids`` (tracks),
          ``num_frames`` (frames with at least one box).
        - ``HOTA``, ``DetA``, ``AssA``, ``LocA``, ... (Luiten et al. 2021): see
          :func:`hota_metrics`.

        Counts are floats; undefined ratios are NaN (see the module notes).

    Raises
    ------
    InputError
        A required column is missing or non-finite, a frame is negative, a
        ``(frame, track_id)`` pair repeats (the message names the row), an option is
        invalid, or a frame is outside ``n_frames``.
    """
    metric, gate = _resolve(metric, gate)
    score = _score_sequence(gt, pred, metric=metric, gate=gate, hota=hota, n_frames=n_frames)
    return _finalise(score)


def evaluate_sequences(
    pairs: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    *,
    metric: str = "centre",
    gate: float | None = None,
    hota: bool = True,
    n_frames: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Score several sequences and their combination.

    Parameters
    ----------
    pairs : mapping of str to (gt, pred)
        Sequence name -> (ground-truth tracks, predicted tracks), as in :func:`mot_metrics`.
    metric, gate, hota
        As in :func:`mot_metrics`.
    n_frames : mapping of str to int, optional
        Number of frames per sequence name (sequences not listed are unchecked).

    Returns
    -------
    pandas.DataFrame
        One row per sequence (index = name, in the given order) and a last row
        ``"OVERALL"``. The overall row is computed from the summed counts of all
        sequences (as motmetrics' ``generate_overall``), e.g.
        ``MOTA = 1 - sum(FN + FP + IDSW) / sum(num_gt)``, IDF1 from summed IDTP/IDFP/IDFN,
        and HOTA with TrackEval's ``HOTA.combine_sequences`` (per-alpha sums of TP, FN, FP;
        AssA and LocA weighted by TP) -- not a mean of the rows. Ids are per sequence.

    Raises
    ------
    InputError
        No sequences, a sequence named ``"OVERALL"``, or any error of :func:`mot_metrics`
        (the message is prefixed with the sequence name).
    """
    if not pairs:
        raise InputError("evaluate_sequences needs at least one (gt, pred) pair")
    if "OVERALL" in pairs:
        raise InputError("a sequence may not be called 'OVERALL' (that row holds the combined metrics)")
    metric, gate = _resolve(metric, gate)
    scores: dict[str, _SequenceScore] = {}
    for name, pair in pairs.items():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InputError(f"sequence {name!r}: expected a (gt, pred) tuple of DataFrames")
        gt, pred = pair
        try:
            score = _score_sequence(gt, pred, metric=metric, gate=gate, hota=hota,
                                    n_frames=None if n_frames is None else n_frames.get(name))
        except InputError as err:
            raise InputError(f"sequence {name!r}: {err}") from err
        scores[name] = score
    rows = {name: _finalise(s) for name, s in scores.items()}
    total = {k: sum(s.counts[k] for s in scores.values()) for k in next(iter(scores.values())).counts}
    combined_hota = None
    if hota:
        import trackeval  # noqa: PLC0415

        combined_hota = trackeval.metrics.HOTA().combine_sequences({k: s.hota for k, s in scores.items()})
    rows["OVERALL"] = _finalise(_SequenceScore(total, combined_hota))
    return pd.DataFrame.from_dict(rows, orient="index")


def oracle_tracks(detections: pd.DataFrame, gt: pd.DataFrame, *, gate: float = 10.0) -> pd.DataFrame:
    """The identity oracle of a set of detections: the tracks a tracker that never errs would make of them.

    In each frame the detections are paired one-to-one with the ground truth by centre distance
    (:func:`~spermtrack.eval.detection.match_centres`, gate ``gate`` px); a paired detection takes the id of
    its ground-truth track and every other detection is dropped. Scored with :func:`mot_metrics`, these
    tracks show how far any tracker's result on the same detections is from what those detections allow:
    no false positive, no identity error, and every miss the detector's own.

    It is a ceiling for trackers that output detections only, not a strict bound: a tracker that
    interpolates across a miss can add a matched row the detections lack.

    Parameters
    ----------
    detections : pandas.DataFrame
        Detections (:mod:`spermtrack.schema`): ``frame``, ``x``, ``y`` (box centre, px) and any other
        columns, which are kept.
    gt : pandas.DataFrame
        Ground-truth tracks: ``frame``, ``track_id``, ``x``, ``y``.
    gate : float
        Largest centre distance in px that may pair (the ``"centre"`` metric's gate).

    Returns
    -------
    pandas.DataFrame
        The paired detections, ordered by frame, with ``track_id`` set to their ground-truth track's id.

    Raises
    ------
    InputError
        A column is missing or non-finite, or ``gate`` is negative or NaN.
    """
    if not gate >= 0:  # also rejects NaN
        raise InputError(f"gate must be a non-negative number of px, got {gate!r}")
    ids = _table(gt, "gt", ("track_id",))["track_id"]
    pairs = match_centres(gt, detections, max_dist=gate)
    tracks = detections.iloc[pairs["pred_row"].to_numpy()].reset_index(drop=True)
    return tracks.assign(track_id=ids[pairs["gt_row"].to_numpy()])
