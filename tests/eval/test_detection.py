"""Detection metrics: centre matching, precision/recall/F1 and COCO-style AP (checked against pycocotools)."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.eval.detection import (
    COCO_IOU_THRESHOLDS,
    assign_gated,
    average_precision,
    box_iou,
    centre_distances,
    detection_prf,
    f1_by_threshold,
    match_centres,
)


def dets(rows) -> pd.DataFrame:
    """Detections from (frame, x, y, w, h[, score[, class_id]]) tuples."""
    cols = ["frame", "x", "y", "w", "h", "score", "class_id"]
    rows = [tuple(r) + (1.0, 0)[len(r) - 5:] for r in rows]
    df = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    return df.astype({"frame": np.int64, "x": float, "y": float, "w": float, "h": float, "score": float,
                      "class_id": np.int64})


# ----------------------------------------------------------------------------------------------------------------------
# Geometry and assignment
# ----------------------------------------------------------------------------------------------------------------------
def test_centre_distances_and_iou():
    a = np.array([[0.0, 0.0, 2, 2]])
    b = np.array([[3.0, 4.0, 2, 2], [1.0, 0.0, 2, 2], [0.0, 0.0, 2, 2], [0.0, 0.0, 4, 4]])
    np.testing.assert_allclose(centre_distances(a, b), [[5.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(box_iou(a, b), [[0.0, 2 / 6, 1.0, 4 / 16]])
    np.testing.assert_allclose(box_iou(np.array([[0.0, 0, 0, 0]]), np.array([[0.0, 0, 0, 0]])), [[0.0]])
    assert box_iou(np.empty((0, 4)), b).shape == (0, 4)


def test_assign_gated_maximises_pairs_then_minimises_cost():
    # min total cost alone would take (0, 0) = 1 and leave row 1 unpaired; two pairs (9 + 2) are better
    cost = np.array([[1.0, 9.0], [2.0, np.nan]])
    rows, cols = assign_gated(cost, 10.0)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    rows, cols = assign_gated(cost, 5.0)  # now 9 is beyond the gate
    assert rows.tolist() == [0] and cols.tolist() == [0]
    assert assign_gated(np.full((2, 3), np.nan))[0].size == 0
    assert assign_gated(np.empty((0, 3)))[0].size == 0


# ----------------------------------------------------------------------------------------------------------------------
# Centre matching, P/R/F1
# ----------------------------------------------------------------------------------------------------------------------
def test_match_centres_per_frame_with_gate():
    gt = dets([(0, 0, 0, 4, 4), (0, 10, 0, 4, 4), (1, 0, 0, 4, 4)]).set_axis([7, 8, 9])
    pred = dets([(1, 1, 0, 4, 4), (0, 9, 0, 4, 4), (0, 1, 0, 4, 4), (0, 50, 50, 4, 4)])
    m = match_centres(gt, pred, max_dist=3.0)
    assert m[["frame", "gt_row", "pred_row"]].values.tolist() == [[0, 0, 2], [0, 1, 1], [1, 2, 0]]
    np.testing.assert_allclose(m["distance"], [1.0, 1.0, 1.0])
    # the gate in px: 1 px error passes at 1, fails below
    assert len(match_centres(gt, pred, max_dist=0.5)) == 0
    # no frame column: one frame
    one = match_centres(gt.drop(columns="frame").iloc[:2], pred.drop(columns="frame").iloc[1:3], max_dist=3)
    assert one["frame"].tolist() == [0, 0]
    with pytest.raises(InputError, match="max_dist"):
        match_centres(gt, pred, max_dist=float("nan"))


def test_detection_prf_hand_cases():
    gt = dets([(0, 0, 0, 4, 4), (0, 20, 0, 4, 4), (1, 0, 0, 4, 4), (1, 20, 0, 4, 4)])
    perfect = detection_prf(gt, gt)
    assert (perfect["precision"], perfect["recall"], perfect["f1"], perfect["centre_error_median_px"]) == (1, 1, 1, 0)
    half = dets([(0, 1, 0, 4, 4), (1, 0, 2, 4, 4), (1, 60, 60, 4, 4), (0, 80, 80, 4, 4)])
    r = detection_prf(gt, half, max_dist=10.0)
    assert (r["tp"], r["fp"], r["fn"]) == (2, 2, 2)
    assert (r["precision"], r["recall"], r["f1"]) == (0.5, 0.5, 0.5)
    assert r["centre_error_median_px"] == pytest.approx(1.5)
    none = detection_prf(gt, dets([]))
    assert none["recall"] == 0 and none["f1"] == 0 and math.isnan(none["precision"])
    assert math.isnan(none["centre_error_median_px"])
    no_gt = detection_prf(dets([]), half)
    assert no_gt["precision"] == 0 and math.isnan(no_gt["recall"])
    assert all(math.isnan(detection_prf(dets([]), dets([]))[k]) for k in ("precision", "recall", "f1"))


def test_f1_by_threshold_keeps_rows_at_or_above_each_threshold():
    gt = dets([(0, 0, 0, 4, 4), (0, 20, 0, 4, 4)])
    pred = dets([(0, 0, 0, 4, 4), (0, 20, 0, 4, 4), (0, 60, 60, 4, 4)]).assign(score=[0.9, 0.3, 0.5])
    f1 = f1_by_threshold(gt, pred, thresholds=(0.1, 0.3, 0.4, 0.6, 0.95))
    # all 3 kept: 2 TP 1 FP; 0.4: 1 TP 1 FP 1 FN; 0.6: 1 TP 1 FN; 0.95: none kept
    assert f1 == {0.1: pytest.approx(0.8), 0.3: pytest.approx(0.8), 0.4: 0.5, 0.6: pytest.approx(2 / 3), 0.95: 0.0}
    flipped = f1_by_threshold(gt, pred, scores=1.0 - pred["score"].to_numpy(), thresholds=(0.6,))
    assert flipped == {0.6: pytest.approx(2 / 3)}  # scores given apart from the table: only the 0.3 row (0.7) kept


def test_detection_input_errors():
    gt = dets([(0, 0, 0, 4, 4)])
    with pytest.raises(InputError, match="pred is missing column"):
        detection_prf(gt, gt.drop(columns="y"))
    bad = gt.copy()
    bad.loc[0, "x"] = np.inf
    with pytest.raises(InputError, match="column 'x' must hold a finite number; row 0"):
        detection_prf(gt, bad)
    with pytest.raises(InputError, match="frame' must be >= 0"):
        detection_prf(gt.assign(frame=-1), gt)
    with pytest.raises(InputError, match="'w' must be >= 0"):
        average_precision(gt, gt.assign(w=-1.0))


# ----------------------------------------------------------------------------------------------------------------------
# Average precision
# ----------------------------------------------------------------------------------------------------------------------
def test_ap_hand_cases():
    gt = dets([(0, 10, 10, 10, 10), (0, 40, 10, 10, 10)])
    perfect = average_precision(gt, gt.assign(score=[0.9, 0.8]))
    # precision = TP / (TP + FP + eps) as in pycocotools, so "1" is 1 - 1e-16
    assert perfect["mAP50"] == pytest.approx(1.0) and perfect["mAP50_95"] == pytest.approx(1.0)
    assert list(perfect) == ["mAP50", "mAP50_95"] + [f"AP@{t:.2f}" for t in COCO_IOU_THRESHOLDS]
    wrong = average_precision(gt, dets([(0, 100, 100, 10, 10, 0.9), (1, 10, 10, 10, 10, 0.9)]))
    assert wrong["mAP50"] == 0.0 and wrong["mAP50_95"] == 0.0
    # one of two found: recall reaches 0.5 at precision 1 -> 51 of the 101 recall points
    half = average_precision(gt, dets([(0, 10, 10, 10, 10, 0.9)]))
    assert half["mAP50"] == pytest.approx(51 / 101)
    # a false positive ranked below the only true positive costs nothing; ranked above, it halves precision
    one = dets([(0, 10, 10, 10, 10)])
    assert average_precision(one, dets([(0, 10, 10, 10, 10, 0.9), (0, 80, 80, 10, 10, 0.5)]))["mAP50"] == \
        pytest.approx(1.0)
    assert average_precision(one, dets([(0, 10, 10, 10, 10, 0.5), (0, 80, 80, 10, 10, 0.9)]))["mAP50"] == \
        pytest.approx(0.5)
    # IoU 0.6 counts at 0.50 and 0.55 only: 2 of 10 thresholds (a 10 x 10 box shifted so IoU = 0.6)
    shift = 10 * (1 - 2 * 0.6 / 1.6)  # IoU = (10 - s) / (10 + s)
    r = average_precision(one, dets([(0, 10 + shift, 10, 10, 10, 0.9)]))
    assert r["AP@0.55"] == pytest.approx(1.0) and r["AP@0.60"] == pytest.approx(1.0)
    assert r["AP@0.65"] == 0.0
    assert r["mAP50_95"] == pytest.approx(0.3)


def test_ap_duplicates_and_greedy_score_order():
    one = dets([(0, 10, 10, 10, 10)])
    # a duplicate detection of the same object is a false positive
    dup = average_precision(one, dets([(0, 10, 10, 10, 10, 0.9), (0, 10.5, 10, 10, 10, 0.95)]))
    assert dup["mAP50"] == pytest.approx(1.0)  # the better-scored duplicate takes the match first; the other ranks after it
    two = dets([(0, 10, 10, 10, 10), (0, 14, 10, 10, 10)])
    # greedy, not optimal: the 0.9 prediction takes gt 0 (IoU 9/11 > 7/13); the 0.8 one then overlaps
    # only gt 1 with IoU 6.5/13.5 < 0.5 and is a false positive, although A->gt 1, B->gt 0 would pair both
    pred = dets([(0, 11, 10, 10, 10, 0.9), (0, 10.5, 10, 10, 10, 0.8)])
    r = average_precision(two, pred, iou_thresholds=[0.5])
    assert r["mAP50"] == pytest.approx(51 / 101)


def test_ap_classes_and_empty_cases():
    gt = dets([(0, 10, 10, 10, 10, 1.0, 0), (0, 50, 50, 10, 10, 1.0, 1)])
    right = dets([(0, 10, 10, 10, 10, 0.9, 0), (0, 50, 50, 10, 10, 0.9, 1)])
    swapped = right.assign(class_id=[1, 0])
    assert average_precision(gt, right)["mAP50"] == pytest.approx(1.0)
    assert average_precision(gt, swapped)["mAP50"] == 0.0
    assert average_precision(gt, swapped, by_class=False)["mAP50"] == pytest.approx(1.0)
    # a predicted class without ground truth is left out of the mean
    extra = pd.concat([right, dets([(0, 90, 90, 10, 10, 0.99, 2)])], ignore_index=True)
    assert average_precision(gt, extra)["mAP50"] == pytest.approx(1.0)
    assert math.isnan(average_precision(dets([]), right)["mAP50"])
    assert average_precision(gt, dets([]))["mAP50_95"] == 0.0
    with pytest.raises(InputError, match="iou_thresholds"):
        average_precision(gt, right, iou_thresholds=[0.0, 0.5])
    custom = average_precision(gt, right, iou_thresholds=[0.75])
    assert set(custom) == {"mAP50", "mAP50_95", "AP@0.75"} and custom["mAP50"] == pytest.approx(1.0)


def _random_scene(rng: np.random.Generator, n_frames: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    gt, pred = [], []
    for f in range(n_frames):
        for _ in range(int(rng.integers(0, 12))):
            x, y = rng.uniform(20, 200, 2)
            w, h = rng.uniform(5, 30, 2)
            c = int(rng.integers(0, 3))
            gt.append((f, x, y, w, h, 1.0, c))
            for _ in range(int(rng.integers(0, 3))):  # misses, hits and duplicates
                pred.append((f, x + rng.normal(0, 2), y + rng.normal(0, 2), w * rng.uniform(0.8, 1.2),
                             h * rng.uniform(0.8, 1.2), round(float(rng.random()), 2), c))
        for _ in range(int(rng.integers(0, 5))):
            pred.append((f, *rng.uniform(20, 200, 2), *rng.uniform(5, 30, 2), round(float(rng.random()), 2),
                         int(rng.integers(0, 3))))
    return dets(gt), dets(pred)


def _pycocotools_ap(gt: pd.DataFrame, pred: pd.DataFrame, n_frames: int) -> np.ndarray:
    """pycocotools' AP per IoU threshold (mean over classes and recall points)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def bbox(r):
        return [r.x - r.w / 2, r.y - r.h / 2, r.w, r.h]

    dataset = {"images": [{"id": i} for i in range(n_frames)], "categories": [{"id": c} for c in range(3)],
               "annotations": [{"id": k + 1, "image_id": int(r.frame), "category_id": int(r.class_id),
                                "bbox": bbox(r), "area": r.w * r.h, "iscrowd": 0}
                               for k, r in enumerate(gt.itertuples())]}
    results = [{"image_id": int(r.frame), "category_id": int(r.class_id), "bbox": bbox(r), "score": r.score}
               for r in pred.itertuples()]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, -1]  # T x R x K, area "all", maxDets 100
    out = []
    for t in range(precision.shape[0]):
        p = precision[t]
        out.append(p[p > -1].mean() if (p > -1).any() else np.nan)
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_ap_agrees_with_pycocotools(seed):
    rng = np.random.default_rng(seed)
    gt, pred = _random_scene(rng, n_frames=6)
    ours = average_precision(gt, pred)
    ref = _pycocotools_ap(gt, pred, 6)
    np.testing.assert_allclose([ours[f"AP@{t:.2f}"] for t in COCO_IOU_THRESHOLDS], ref, rtol=0, atol=1e-6)
    assert ours["mAP50"] == pytest.approx(ref[0], abs=1e-6)
    assert ours["mAP50_95"] == pytest.approx(ref.mean(), abs=1e-6)
    assert 0 < ours["mAP50_95"] < ours["mAP50"] < 1


def test_roc_auc_is_the_chance_that_a_true_item_outscores_a_false_one():
    from spermtrack.eval.detection import roc_auc

    y = np.array([True, True, False, False])
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert roc_auc(y, np.full(4, 0.5)) == 0.5  # ties count half
    assert roc_auc(y, np.array([0.9, 0.3, 0.5, 0.1])) == 0.75
    assert np.isnan(roc_auc(np.ones(3, bool), np.arange(3.0)))
    with pytest.raises(InputError, match="differ in length"):
        roc_auc(y, np.arange(3.0))
