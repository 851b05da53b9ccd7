"""Detection metrics: centre matching, precision/recall/F1 and COCO-style average precision.

All functions take detections tables (see :mod:`spermtrack.schema`): ``frame`` (0-based
int), ``x``, ``y`` (box centre, px), ``w``, ``h`` (box size, px), ``score`` and
``class_id``. Only the columns a function needs are required; a table without a
``frame`` column is one frame. Extra columns are ignored.

Frames are grouped with numpy (one sort, then slices), never with per-frame pandas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from spermtrack.errors import InputError

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_POINTS",
    "SCORE_THRESHOLDS",
    "assign_gated",
    "average_precision",
    "box_iou",
    "centre_distances",
    "detection_prf",
    "f1_by_threshold",
    "frame_slices",
    "match_centres",
    "roc_auc",
]

#: COCO's IoU thresholds 0.50:0.05:0.95, built exactly as pycocotools builds them.
COCO_IOU_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: Score thresholds 0.05, 0.10, ..., 0.95 (detection scores are calibrated probabilities).
SCORE_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in np.round(np.arange(1, 20) * 0.05, 2))
#: COCO's 101 recall points 0:0.01:1 for interpolated AP.
COCO_RECALL_POINTS: np.ndarray = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)


# ----------------------------------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------------------------------
def _rows(a: np.ndarray, n_cols: int) -> np.ndarray:
    """``a`` as a float (N, >= n_cols) array; an empty input becomes (0, n_cols)."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, max(n_cols, a.shape[-1] if a.ndim == 2 else 0))
    if a.ndim != 2 or a.shape[1] < n_cols:
        raise InputError(f"expected an (N, {n_cols}) array of boxes, got shape {a.shape}")
    return a


def centre_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between box centres.

    Parameters
    ----------
    a : numpy.ndarray, shape (N, >=2)
        Rows start with the centre ``x, y`` (px); further columns are ignored.
    b : numpy.ndarray, shape (M, >=2)
        Same layout as ``a``.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        ``d[i, j] = sqrt((x_i - x_j)^2 + (y_i - y_j)^2)``.
    """
    a, b = _rows(a, 2), _rows(b, 2)
    return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of centre-format boxes.

    Parameters
    ----------
    a : numpy.ndarray, shape (N, 4)
        Boxes as ``x, y, w, h`` (further columns are ignored) with ``x, y`` the box centre (px).
    b : numpy.ndarray, shape (M, 4)
        Same layout as ``a``.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        ``IoU = |A ∩ B| / |A ∪ B|`` with continuous coordinates (no "+1" pixel
        convention, as in pycocotools and TrackEval); 0 where the union is empty.
    """
    a, b = _rows(a, 4), _rows(b, 4)
    a, b = a[:, :4], b[:, :4]
    a0, a1 = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b0, b1 = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    size = np.clip(np.minimum(a1[:, None], b1[None]) - np.maximum(a0[:, None], b0[None]), 0.0, None)
    inter = size[..., 0] * size[..., 1]
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


# ----------------------------------------------------------------------------------------------------------------------
# Assignment
# ----------------------------------------------------------------------------------------------------------------------
def assign_gated(cost: np.ndarray, max_cost: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian assignment that never pairs across the gate.

    Among all one-to-one pairings that use only allowed pairs (finite ``cost`` not above
    ``max_cost``), pick one with the most pairs and, among those, the least total cost
    (forbidden pairs get a cost larger than the sum of all allowed costs, then are dropped).

    Parameters
    ----------
    cost : numpy.ndarray, shape (N, M)
        Pair costs; NaN or inf means "cannot pair" (motmetrics convention).
    max_cost : float
        Pairs with ``cost > max_cost`` cannot pair either.

    Returns
    -------
    rows, cols : numpy.ndarray of int
        Indices of the paired rows and columns, sorted by row.
    """
    cost = np.asarray(cost, dtype=np.float64)
    empty = np.empty(0, dtype=np.int64)
    if cost.size == 0:
        return empty, empty
    allowed = np.isfinite(cost) & (cost <= max_cost)
    keep_r = np.flatnonzero(allowed.any(axis=1))
    keep_c = np.flatnonzero(allowed.any(axis=0))
    if keep_r.size == 0:
        return empty, empty
    sub = cost[np.ix_(keep_r, keep_c)]
    ok = allowed[np.ix_(keep_r, keep_c)]
    big = 2.0 * float(np.abs(sub[ok]).sum()) + 1.0
    r, c = linear_sum_assignment(np.where(ok, sub, big))
    good = ok[r, c]
    return keep_r[r[good]].astype(np.int64), keep_c[c[good]].astype(np.int64)


# ----------------------------------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------------------------------
def _where(df: pd.DataFrame, pos: int) -> str:
    """``row <pos> (index <label>)`` for error messages; numpy scalars shown as plain values."""
    label = df.index[pos]
    label = label.item() if isinstance(label, np.generic) else label
    return f"row {pos} (index {label!r})"


def _numeric(df: pd.DataFrame, col: str, name: str, *, integer: bool = False) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if integer:
        bad |= ~bad & (values != np.round(values))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a finite number"
        raise InputError(f"{name} column '{col}' must hold {kind}; {_where(df, pos)} is {df[col].iloc[pos]!r}")
    return values.astype(np.int64) if integer else values


def _table(df: pd.DataFrame, name: str, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Check a detections-like table and return the named columns as numpy arrays.

    ``frame`` defaults to 0 when absent (one frame) and must be a non-negative integer.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{name} is missing column(s) {', '.join(missing)}")
    out = {c: _numeric(df, c, name, integer=c in ("class_id", "track_id")) for c in columns}
    if "frame" in df.columns:
        frame = _numeric(df, "frame", name, integer=True)
        if (frame < 0).any():
            pos = int(np.flatnonzero(frame < 0)[0])
            raise InputError(f"{name} column 'frame' must be >= 0 (frames are 0-based); row {pos} is {frame[pos]}")
        out["frame"] = frame
    else:
        out["frame"] = np.zeros(len(df), dtype=np.int64)
    for col in ("w", "h"):
        if col in out and (out[col] < 0).any():
            pos = int(np.flatnonzero(out[col] < 0)[0])
            raise InputError(f"{name} column '{col}' must be >= 0; row {pos} is {out[col][pos]}")
    return out


def frame_slices(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group row indices by frame with one stable sort.

    Parameters
    ----------
    frames : numpy.ndarray of int, shape (N,)
        Frame of each row.

    Returns
    -------
    order : numpy.ndarray
        Row indices sorted by frame (stable: rows of one frame keep their order).
    unique : numpy.ndarray
        The distinct frames, ascending.
    starts, ends : numpy.ndarray
        ``order[starts[k]:ends[k]]`` are the rows of frame ``unique[k]``.
    """
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    unique, starts = np.unique(sorted_frames, return_index=True)
    ends = np.append(starts[1:], len(order)).astype(np.int64) if len(order) else np.empty(0, dtype=np.int64)
    return order, unique, starts.astype(np.int64), ends


def _paired_frames(frames_a: np.ndarray, frames_b: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(frame, rows_a, rows_b)`` for every frame present in either table."""
    oa, ua, sa, ea = frame_slices(frames_a)
    ob, ub, sb, eb = frame_slices(frames_b)
    every = np.union1d(ua, ub)
    ia = np.searchsorted(ua, every)
    ib = np.searchsorted(ub, every)
    empty = np.empty(0, dtype=np.int64)
    for k, frame in enumerate(every):
        ka, kb = ia[k], ib[k]
        rows_a = oa[sa[ka]:ea[ka]] if ka < len(ua) and ua[ka] == frame else empty
        rows_b = ob[sb[kb]:eb[kb]] if kb < len(ub) and ub[kb] == frame else empty
        yield int(frame), rows_a, rows_b


# ----------------------------------------------------------------------------------------------------------------------
# Centre matching, precision / recall / F1
# ----------------------------------------------------------------------------------------------------------------------
def match_centres(gt: pd.DataFrame, pred: pd.DataFrame, *, max_dist: float) -> pd.DataFrame:
    """Pair ground-truth and predicted centres one-to-one in each frame.

    In every frame, the Hungarian algorithm (:func:`assign_gated`) picks the pairing
    with the most pairs whose centre distance is at most ``max_dist`` and, among those,
    the smallest total distance.

    Parameters
    ----------
    gt, pred : pandas.DataFrame
        Tables with ``x``, ``y`` (box centre, px) and optionally ``frame``
        (0-based; absent means one frame).
    max_dist : float
        Gate in px: pairs farther apart cannot match.

    Returns
    -------
    pandas.DataFrame
        One row per match, ordered by frame then ``gt_row``: ``frame``, ``gt_row`` and
        ``pred_row`` (positional row numbers into ``gt`` and ``pred``), ``distance`` (px).

    Raises
    ------
    InputError
        A column is missing or holds a non-finite value, or ``max_dist`` is negative or NaN.
    """
    if not max_dist >= 0:  # also rejects NaN
        raise InputError(f"max_dist must be a non-negative number of px, got {max_dist!r}")
    g = _table(gt, "gt", ("x", "y"))
    p = _table(pred, "pred", ("x", "y"))
    gxy = np.column_stack([g["x"], g["y"]])
    pxy = np.column_stack([p["x"], p["y"]])
    frames, gt_rows, pred_rows, dists = [], [], [], []
    for frame, rg, rp in _paired_frames(g["frame"], p["frame"]):
        if rg.size == 0 or rp.size == 0:
            continue
        d = centre_distances(gxy[rg], pxy[rp])
        i, j = assign_gated(d, max_dist)
        frames.append(np.full(i.size, frame, dtype=np.int64))
        gt_rows.append(rg[i])
        pred_rows.append(rp[j])
        dists.append(d[i, j])

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

    return pd.DataFrame({
        "frame": cat(frames, np.int64),
        "gt_row": cat(gt_rows, np.int64),
        "pred_row": cat(pred_rows, np.int64),
        "distance": cat(dists, np.float64),
    })


def _ratio(num: float, den: float) -> float:
    """``num / den``, or NaN when the denominator is zero (the metric is undefined)."""
    return float(num) / float(den) if den > 0 else float("nan")


def detection_prf(gt: pd.DataFrame, pred: pd.DataFrame, *, max_dist: float = 10.0) -> dict[str, float]:
    """Precision, recall and F1 of detections matched by centre distance.

    Matches come from :func:`match_centres` (one-to-one per frame, gate ``max_dist`` px).
    With ``TP`` matches, ``FP = n_pred - TP`` and ``FN = n_gt - TP``:

    ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``,
    ``F1 = 2 TP / (2 TP + FP + FN)``.

    A ratio whose denominator is zero is undefined and returned as NaN (e.g. precision
    with no predictions, recall with no ground truth), never as a silent 0 or 1.

    Parameters
    ----------
    gt, pred : pandas.DataFrame
        Detections tables (``x``, ``y`` and optionally ``frame`` are used).
    max_dist : float
        Centre-distance gate in px.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn`` and
        ``centre_error_median_px`` (median centre distance of the matches; NaN if none).
    """
    matches = match_centres(gt, pred, max_dist=max_dist)
    tp = len(matches)
    fp = len(pred) - tp
    fn = len(gt) - tp
    dist = matches["distance"].to_numpy()
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "centre_error_median_px": float(np.median(dist)) if tp else float("nan"),
    }


def f1_by_threshold(gt: pd.DataFrame, pred: pd.DataFrame, scores: np.ndarray | None = None, *,
                    thresholds: Sequence[float] = SCORE_THRESHOLDS, max_dist: float = 10.0) -> dict[float, float]:
    """F1 of the detections kept at each score threshold (:func:`detection_prf` per threshold).

    Parameters
    ----------
    gt, pred : pandas.DataFrame
        Detections tables.
    scores : numpy.ndarray, optional
        One score per row of ``pred`` (default ``pred["score"]``).
    thresholds : sequence of float
        Rows with ``score >= threshold`` are kept.
    max_dist : float
        Centre-distance gate in px.

    Returns
    -------
    dict
        threshold -> F1 (NaN where F1 is undefined).
    """
    scores = pred["score"].to_numpy() if scores is None else np.asarray(scores)
    return {float(t): detection_prf(gt, pred[scores >= t], max_dist=max_dist)["f1"] for t in thresholds}


# ----------------------------------------------------------------------------------------------------------------------
# COCO-style average precision
# ----------------------------------------------------------------------------------------------------------------------
def _greedy_match(iou: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """COCO's greedy matching of score-ordered predictions, for all thresholds at once.

    Parameters
    ----------
    iou : numpy.ndarray, shape (P, G)
        IoU of each prediction (rows, already in descending score order) with each
        ground-truth box of one frame and class.
    thresholds : numpy.ndarray, shape (T,)
        IoU thresholds.

    Returns
    -------
    numpy.ndarray of bool, shape (T, P)
        Whether each prediction is a true positive at each threshold. Each prediction in
        turn takes the still unmatched ground truth with the highest IoU, if that IoU is
        at least ``min(t, 1 - 1e-10)``; ties go to the later ground truth (as pycocotools).
    """
    n_t = len(thresholds)
    n_p, n_g = iou.shape
    tp = np.zeros((n_t, n_p), dtype=bool)
    if n_p == 0 or n_g == 0:
        return tp
    t_eff = np.minimum(thresholds, 1 - 1e-10)[:, None]
    taken = np.zeros((n_t, n_g), dtype=bool)
    t_idx = np.arange(n_t)
    for k in range(n_p):
        row = iou[k][None, :]
        cand = np.where(taken | (row < t_eff), -np.inf, row)
        j = n_g - 1 - np.argmax(cand[:, ::-1], axis=1)
        ok = np.isfinite(cand[t_idx, j])
        taken[t_idx[ok], j[ok]] = True
        tp[ok, k] = True
    return tp


def _interpolated_ap(tp: np.ndarray, n_gt: int) -> np.ndarray:
    """101-point interpolated AP from score-ordered true-positive flags.

    Parameters
    ----------
    tp : numpy.ndarray of bool, shape (T, P)
        True-positive flags of all predictions of one class, in descending score order.
    n_gt : int
        Number of ground-truth boxes of that class (> 0).

    Returns
    -------
    numpy.ndarray, shape (T,)
        AP per threshold (see :func:`average_precision` for the formula).
    """
    n_t, n_p = tp.shape
    if n_p == 0:
        return np.zeros(n_t)
    tps = np.cumsum(tp, axis=1, dtype=np.float64)
    fps = np.cumsum(~tp, axis=1, dtype=np.float64)
    recall = tps / n_gt
    precision = tps / (tps + fps + np.spacing(1))
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    ap = np.empty(n_t)
    for t in range(n_t):
        idx = np.searchsorted(recall[t], COCO_RECALL_POINTS, side="left")
        q = np.where(idx < n_p, envelope[t][np.minimum(idx, n_p - 1)], 0.0)
        ap[t] = q.mean()
    return ap


def average_precision(
    gt: pd.DataFrame,
    pred: pd.DataFrame,
    *,
    iou_thresholds: Sequence[float] | np.ndarray = COCO_IOU_THRESHOLDS,
    by_class: bool = True,
) -> dict[str, float]:
    """COCO-style average precision of box detections over one or many frames.

    For each class and IoU threshold ``t``:

    1. In each frame, predictions are taken in descending ``score`` order; each is a
       true positive if it can claim a still unmatched ground-truth box with
       ``IoU >= t`` (the one with the highest IoU), else a false positive.
    2. All predictions of the class are pooled over frames and sorted by descending
       score (stable, so ties keep frame then row order), giving cumulative
       ``TP(k)``, ``FP(k)``, ``recall(k) = TP(k) / n_gt`` and
       ``precision(k) = TP(k) / (TP(k) + FP(k))``.
    3. ``AP_t = (1/101) * sum_{r in {0, 0.01, ..., 1}} p_interp(r)`` with
       ``p_interp(r) = max_{k: recall(k) >= r} precision(k)`` (0 if recall ``r`` is never
       reached).

    ``AP_t`` is averaged over classes that have ground truth (a class with ground truth
    but no predictions scores 0; a class with predictions but no ground truth is left
    out, as in COCO). This is the COCO detection evaluation (Lin et al., "Microsoft
    COCO: Common Objects in Context", ECCV 2014; pycocotools ``COCOeval`` with
    ``iouType='bbox'``, area range "all") except that the number of detections per
    frame is not capped at 100 (crowded sperm frames can hold more) and there are no
    crowd or ignore regions. It agrees with pycocotools to 1e-6 on frames with at most
    100 predictions (see tests).

    Parameters
    ----------
    gt : pandas.DataFrame
        Ground-truth boxes: ``x``, ``y`` (centre, px), ``w``, ``h``, optionally
        ``frame`` and ``class_id``.
    pred : pandas.DataFrame
        Predicted boxes with the same columns plus ``score``.
    iou_thresholds : sequence of float
        Thresholds in (0, 1]; default COCO's 0.50:0.05:0.95.
    by_class : bool
        Match and average per ``class_id`` when both tables have that column; if False
        (or the column is missing) all boxes are one class.

    Returns
    -------
    dict
        ``mAP50`` (AP at IoU 0.5), ``mAP50_95`` (mean AP over ``iou_thresholds``) and
        ``AP@{t:.2f}`` for each threshold. NaN when the ground truth has no boxes.

    Raises
    ------
    InputError
        A column is missing or non-finite, or a threshold is outside (0, 1].
    """
    thresholds = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if thresholds.size == 0 or not np.all((thresholds > 0) & (thresholds <= 1)):
        raise InputError(f"iou_thresholds must be non-empty and within (0, 1], got {thresholds.tolist()}")
    with_50 = thresholds if np.isclose(thresholds, 0.5, rtol=0, atol=1e-12).any() else np.append(thresholds, 0.5)
    i50 = int(np.flatnonzero(np.isclose(with_50, 0.5, rtol=0, atol=1e-12))[0])
    use_class = by_class and "class_id" in gt.columns and "class_id" in pred.columns
    extra = ("class_id",) if use_class else ()
    g = _table(gt, "gt", ("x", "y", "w", "h") + extra)
    p = _table(pred, "pred", ("x", "y", "w", "h", "score") + extra)
    g_cls = g["class_id"] if use_class else np.zeros(len(gt), dtype=np.int64)
    p_cls = p["class_id"] if use_class else np.zeros(len(pred), dtype=np.int64)
    g_box = np.column_stack([g["x"], g["y"], g["w"], g["h"]])
    p_box = np.column_stack([p["x"], p["y"], p["w"], p["h"]])

    per_class = []
    for cls in np.unique(g_cls):
        gi = np.flatnonzero(g_cls == cls)
        pi = np.flatnonzero(p_cls == cls)
        # predictions in (frame, row) order, then stably by descending score
        pi = pi[np.argsort(p["frame"][pi], kind="stable")]
        pi = pi[np.argsort(-p["score"][pi], kind="stable")]
        tp = np.zeros((len(with_50), len(pi)), dtype=bool)
        for _, rg, rp in _paired_frames(g["frame"][gi], p["frame"][pi]):
            if rp.size == 0:
                continue
            # rp are positions in pi, ascending, hence in descending score order
            flags = _greedy_match(box_iou(p_box[pi[rp]], g_box[gi[rg]]), with_50)
            tp[:, rp] = flags
        per_class.append(_interpolated_ap(tp, len(gi)))
    if not per_class:
        ap = np.full(len(with_50), np.nan)
    else:
        ap = np.mean(per_class, axis=0)
    out = {"mAP50": float(ap[i50]), "mAP50_95": float(np.mean(ap[: len(thresholds)]))}
    for t, value in zip(thresholds, ap[: len(thresholds)]):
        out[f"AP@{t:.2f}"] = float(value)
    return out


def roc_auc(is_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a true item outscores a false one (ties count half).

    Parameters
    ----------
    is_true : numpy.ndarray of bool
        Labels.
    scores : numpy.ndarray
        Scores, higher meaning "more likely true".

    Returns
    -------
    float
        In [0, 1]; NaN when only one label is present.
    """
    from scipy.stats import rankdata

    y = np.asarray(is_true, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise InputError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    n_true, n_false = int(y.sum()), int((~y).sum())
    if n_true == 0 or n_false == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_true * (n_true + 1) / 2) / (n_true * n_false))
