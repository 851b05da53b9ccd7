"""MOT metrics: published TUD numbers, TrackEval parity, CLEAR-MOT worked examples, edge cases."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.eval.detection import centre_distances
from spermtrack.eval.mot import (METRICS, distance_matrix, evaluate_sequences, mot_metrics, oracle_tracks,
                                  similarity_matrix)

# py-motmetrics' expected MOTChallenge summary for the bundled TUD data (motmetrics/tests/test_metrics.py,
# test_motchallenge_files), plus TrackEval's HOTA for the same files.
#            IDF1      IDP       IDR       Rcll      Prcn   GT  MT  PT  ML  FP   FN  IDs  FM   MOTA      MOTP
MOTMETRICS_TUD = {
    "TUD-Campus": [0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 8, 1, 6, 1, 13, 150, 7, 7, 0.526462, 0.277201],
    "TUD-Stadtmitte": [0.644619, 0.819760, 0.531142, 0.608997, 0.939920, 10, 5, 4, 1, 45, 452, 7, 6, 0.564014,
                       0.345904],
    "OVERALL": [0.624296, 0.799176, 0.512211, 0.602640, 0.940268, 18, 6, 10, 2, 58, 602, 14, 13, 0.555116, 0.330177],
}
COLUMNS = ["IDF1", "IDP", "IDR", "recall", "precision", "num_gt_ids", "MT", "PT", "ML", "FP", "FN", "IDSW", "FRAG",
           "MOTA", "MOTP"]
HOTA_TUD = {"TUD-Campus": 0.391397, "TUD-Stadtmitte": 0.397849}


def _tracks(rows, size=8.0) -> pd.DataFrame:
    """Tracks table from (frame, track_id, x, y) tuples (same as conftest.tracks)."""
    df = pd.DataFrame(list(rows), columns=["frame", "track_id", "x", "y"]).astype(
        {"frame": np.int64, "track_id": np.int64, "x": float, "y": float})
    return df.assign(w=size, h=size, score=1.0, class_id=0)


# ----------------------------------------------------------------------------------------------------------------------
# Published numbers
# ----------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_tud_reproduces_published_numbers(tud, name):
    gt, pred = tud[name]
    m = mot_metrics(gt, pred, metric="iou")
    assert list(m) == list(METRICS) + ["HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr"]
    np.testing.assert_allclose([m[c] for c in COLUMNS], MOTMETRICS_TUD[name], rtol=0, atol=1e-6)
    assert m["HOTA"] == pytest.approx(HOTA_TUD[name], abs=1e-6)


def test_tud_overall_combines_counts_not_rows(tud, trackeval_tud):
    table = evaluate_sequences(tud, metric="iou")
    assert list(table.index) == ["TUD-Campus", "TUD-Stadtmitte", "OVERALL"]
    for name, expected in MOTMETRICS_TUD.items():
        np.testing.assert_allclose(table.loc[name, COLUMNS].to_numpy(float), expected, rtol=0, atol=1e-6)
    ref = trackeval_tud["COMBINED_SEQ"]["HOTA"]
    for key in ("HOTA", "DetA", "AssA", "LocA"):
        assert table.loc["OVERALL", key] == pytest.approx(float(np.mean(ref[key])), abs=1e-12)
    # a mean of the rows would be wrong
    assert abs(table.loc["OVERALL", "MOTA"] - table.loc[["TUD-Campus", "TUD-Stadtmitte"], "MOTA"].mean()) > 1e-3


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_tud_matches_trackeval_file_pipeline(tud, trackeval_tud, name):
    """TrackEval's MotChallenge2DBox evaluation of the same files agrees on every shared metric."""
    gt, pred = tud[name]
    m = mot_metrics(gt, pred, metric="iou")
    ref = trackeval_tud[name]
    hota, clear, ident = ref["HOTA"], ref["CLEAR"], ref["Identity"]
    for key in ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr"):
        assert m[key] == pytest.approx(float(np.mean(hota[key])), abs=1e-12), key
    pairs = {"MOTA": "MOTA", "MODA": "MODA", "IDSW": "IDSW", "FP": "CLR_FP", "FN": "CLR_FN", "TP": "CLR_TP",
             "MT": "MT", "PT": "PT", "ML": "ML", "FRAG": "Frag", "recall": "CLR_Re", "precision": "CLR_Pr"}
    for ours, theirs in pairs.items():
        assert m[ours] == pytest.approx(float(clear[theirs]), abs=1e-12), ours
    assert m["MOTP"] == pytest.approx(1.0 - clear["MOTP"], abs=1e-12)  # TrackEval reports mean IoU
    for key in ("IDF1", "IDP", "IDR", "IDTP", "IDFP", "IDFN"):
        assert m[key] == pytest.approx(float(ident[key]), abs=1e-12), key


def _trackeval_data(gt: pd.DataFrame, pred: pd.DataFrame, sim_scale: float) -> dict:
    """TrackEval's per-sequence input built independently (boolean masks per frame)."""
    n_t = int(max(gt.frame.max(), pred.frame.max())) + 1
    gu, gi = np.unique(gt.track_id, return_inverse=True)
    pu, pi = np.unique(pred.track_id, return_inverse=True)
    gf, pf = gt.frame.to_numpy(), pred.frame.to_numpy()
    gxy, pxy = gt[["x", "y"]].to_numpy(), pred[["x", "y"]].to_numpy()
    data = {"num_timesteps": n_t, "num_gt_ids": len(gu), "num_tracker_ids": len(pu), "num_gt_dets": len(gt),
            "num_tracker_dets": len(pred), "gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for t in range(n_t):
        a, b = gf == t, pf == t
        data["gt_ids"].append(gi[a])
        data["tracker_ids"].append(pi[b])
        data["similarity_scores"].append(np.clip(1 - centre_distances(gxy[a], pxy[b]) / sim_scale, 0, 1))
    return data


@pytest.mark.parametrize("seed", range(6))
def test_centre_metrics_agree_with_trackeval_classes(scene, seed):
    """Sperm-like scenes: motmetrics (ours) and TrackEval's CLEAR/Identity/HOTA classes on the same pairs."""
    import trackeval

    gt, pred = scene(seed)
    m = mot_metrics(gt, pred, gate=10.0)
    # CLEAR/Identity pair at similarity >= 0.5: with S = 1 - d / 20 that is d <= 10 px, our gate
    data = _trackeval_data(gt, pred, sim_scale=20.0)
    quiet = {"PRINT_CONFIG": False, "THRESHOLD": 0.5}
    clear = trackeval.metrics.CLEAR(dict(quiet)).eval_sequence(data)
    ident = trackeval.metrics.Identity(dict(quiet)).eval_sequence(data)
    for ours, theirs in {"TP": "CLR_TP", "FP": "CLR_FP", "FN": "CLR_FN"}.items():
        assert m[ours] == clear[theirs], ours
    for key in ("IDF1", "IDP", "IDR", "IDTP", "IDFP", "IDFN"):
        assert m[key] == pytest.approx(float(ident[key]), abs=1e-12), key
    # switches: same up to the history convention (TrackEval prefers only the previous frame's pairs)
    assert abs(m["IDSW"] - clear["IDSW"]) <= 0.05 * max(m["IDSW"], 1)
    # HOTA with the documented similarity S = max(0, 1 - d / gate)
    hota = trackeval.metrics.HOTA().eval_sequence(_trackeval_data(gt, pred, sim_scale=10.0))
    for key in ("HOTA", "DetA", "AssA", "LocA"):
        assert m[key] == pytest.approx(float(np.mean(hota[key])), abs=1e-12), key


# ----------------------------------------------------------------------------------------------------------------------
# CLEAR-MOT worked examples (Bernardin & Stiefelhagen 2008; py-motmetrics' test_metrics.py) as tiny scenes
# ----------------------------------------------------------------------------------------------------------------------
def test_clear_mot_events_scene():
    """motmetrics' test_mota_motp sequence: FPs, misses, matches, two switches, history kept over a better match."""
    gt = _tracks([
        (1, 1, 0.0, 0.0), (1, 2, 100.0, 0.0),                      # frame 1: all missed
        (2, 1, 0.0, 0.0), (2, 2, 100.0, 0.0),                      # frame 2: crossed ids, d = 1 and 0.5
        (3, 1, 0.0, 0.0), (3, 2, 100.0, 0.0),                      # frame 3: both switch, d = 2 and 3
        (4, 1, 0.0, 0.0), (4, 2, 6.0, 0.0),                        # frame 4: history (d = 5) beats d = 1
    ])
    pred = _tracks([
        (0, 1, 0.0, 0.0), (0, 2, 100.0, 0.0),                      # frame 0: all false positives
        (2, 2, 1.0, 0.0), (2, 1, 100.5, 0.0),
        (3, 1, 2.0, 0.0), (3, 2, 100.0, 3.0),
        (4, 1, 5.0, 0.0), (4, 2, 1.0, 0.0),
    ])
    m = mot_metrics(gt, pred, hota=False)
    assert (m["TP"], m["FP"], m["FN"], m["IDSW"], m["num_gt"]) == (6, 2, 2, 2, 8)
    assert m["MOTA"] == pytest.approx(1 - (2 + 2 + 2) / 8)
    assert m["MOTP"] == pytest.approx((1 + 0.5 + 2 + 3 + 5 + 5) / 6)
    assert m["num_frames"] == 5


def test_paper_figure3_correct_averaging():
    """Fig. 3 of Bernardin & Stiefelhagen: 4 objects missed for 4 frames, then 1 object tracked: MOTA 0.2."""
    gt = _tracks([(f, k, 30.0 * k, 0.0) for f in range(4) for k in range(1, 5)] + [(f, 4, 120.0, 0.0)
                                                                                    for f in range(4, 8)])
    pred = _tracks([(f, 9, 120.0, 0.0) for f in range(4, 8)])
    m = mot_metrics(gt, pred)
    assert m["MOTA"] == pytest.approx(0.2)
    assert (m["FN"], m["FP"], m["IDSW"], m["TP"]) == (16, 0, 0, 4)


def test_ground_truth_against_itself_is_perfect(tud, scene):
    gt, _ = scene(3)
    for metric, table in (("centre", gt), ("iou", tud["TUD-Campus"][0])):
        m = mot_metrics(table, table, metric=metric)
        for key in ("MOTA", "IDF1", "HOTA", "DetA", "AssA", "LocA", "precision", "recall", "IDP", "IDR"):
            assert m[key] == pytest.approx(1.0), (metric, key)
        assert m["MOTP"] == pytest.approx(0.0, abs=1e-12)
        assert m["IDSW"] == m["FP"] == m["FN"] == m["FRAG"] == 0


def test_swapped_ids_reduce_idf1_and_count_switches():
    """Two far-apart sperm; the tracker swaps their ids halfway."""
    gt = _tracks([(f, k, 50.0 + f, 100.0 * k) for f in range(10) for k in (0, 1)])
    pred = gt.copy()
    late = pred["frame"] >= 5
    pred.loc[late, "track_id"] = 1 - pred.loc[late, "track_id"]
    m = mot_metrics(gt, pred)
    assert m["IDSW"] == 2
    assert m["MOTA"] == pytest.approx(1 - 2 / 20)
    assert m["IDF1"] == pytest.approx(0.5)
    # every match has A(c) = TPA / (TPA + FNA + FPA) = 5 / 15 and DetA = 1
    assert m["AssA"] == pytest.approx(1 / 3)
    assert m["HOTA"] == pytest.approx(math.sqrt(1 / 3))
    assert mot_metrics(gt, gt)["IDF1"] == 1.0


def test_mostly_tracked_uses_at_least_80_percent():
    gt = _tracks([(f, 0, 10.0, 10.0) for f in range(10)])
    pred = _tracks([(f, 0, 10.0, 10.0) for f in range(8)])
    m = mot_metrics(gt, pred)
    assert (m["MT"], m["PT"], m["ML"]) == (1, 0, 0)


def test_fragmentation_counts_a_gap_in_matching():
    gt = _tracks([(f, 0, 10.0, 10.0) for f in range(10)])
    pred = _tracks([(f, 0, 10.0, 10.0) for f in range(10) if f not in (4, 5)])
    m = mot_metrics(gt, pred)
    assert (m["FRAG"], m["FN"], m["IDSW"]) == (1, 2, 0)


# ----------------------------------------------------------------------------------------------------------------------
# Pairing: centre gate, IoU, matrices
# ----------------------------------------------------------------------------------------------------------------------
def test_centre_gate():
    gt = _tracks([(0, 0, 0.0, 0.0)])
    near, far = _tracks([(0, 5, 9.9, 0.0)]), _tracks([(0, 5, 10.1, 0.0)])
    assert (mot_metrics(gt, near)["TP"], mot_metrics(gt, near)["MOTP"]) == (1, pytest.approx(9.9))
    m = mot_metrics(gt, far)
    assert (m["TP"], m["FP"], m["FN"]) == (0, 1, 1)
    assert mot_metrics(gt, far, gate=20.0)["TP"] == 1
    # HOTA: S = 1 - 5/10 = 0.5 matches at alpha = 0.05 ... 0.50 (10 of 19 thresholds)
    m = mot_metrics(gt, _tracks([(0, 5, 3.0, 4.0)]))
    assert m["TP"] == 1 and m["DetA"] == pytest.approx(10 / 19)
    assert m["HOTA"] == pytest.approx(10 / 19)


def test_distance_and_similarity_matrices():
    gt = np.array([[0.0, 0.0, 4, 4], [20.0, 0.0, 4, 4]])
    hyp = np.array([[3.0, 4.0, 4, 4], [20.0, 12.0, 4, 4], [0.0, 0.0, 4, 4]])
    d = distance_matrix(gt, hyp)
    np.testing.assert_allclose(d, [[5.0, np.nan, 0.0], [np.nan, np.nan, np.nan]], equal_nan=True)
    np.testing.assert_allclose(distance_matrix(gt, hyp, gate=12.0)[1, 1], 12.0)
    s = similarity_matrix(gt, hyp)
    np.testing.assert_allclose(s[0], [0.5, 0.0, 1.0])
    assert ((s >= 0) & (s <= 1)).all()
    assert distance_matrix(np.empty((0, 4)), hyp).shape == (0, 3)
    assert similarity_matrix(gt, []).shape == (2, 0)
    with pytest.raises(InputError, match="metric"):
        distance_matrix(gt, hyp, metric="euclid")
    with pytest.raises(InputError, match="gate"):
        distance_matrix(gt, hyp, gate=-1.0)
    with pytest.raises(InputError, match="IoU"):
        distance_matrix(gt, hyp, metric="iou", gate=10.0)


def test_iou_matrices_agree_with_trackeval_and_motmetrics_box_iou():
    import motmetrics.distances as mmd
    from trackeval.datasets._base_dataset import _BaseDataset

    rng = np.random.default_rng(1)
    gt = np.column_stack([rng.uniform(0, 50, (7, 2)), rng.uniform(1, 20, (7, 2))])
    hyp = np.column_stack([rng.uniform(0, 50, (9, 2)), rng.uniform(1, 20, (9, 2))])
    tl = lambda b: np.column_stack([b[:, :2] - b[:, 2:] / 2, b[:, 2:]])  # noqa: E731
    ref = _BaseDataset._calculate_box_ious(tl(gt), tl(hyp), box_format="xywh")
    np.testing.assert_allclose(similarity_matrix(gt, hyp, metric="iou"), ref, atol=1e-12)
    ref_mm = mmd.boxiou(tl(gt)[:, None], tl(hyp)[None, :])
    np.testing.assert_allclose(similarity_matrix(gt, hyp, metric="iou"), ref_mm, atol=1e-12)
    d = distance_matrix(gt, hyp, metric="iou")
    np.testing.assert_allclose(d, np.where(ref < 0.5, np.nan, 1 - ref), atol=1e-12, equal_nan=True)


# ----------------------------------------------------------------------------------------------------------------------
# Input rules and edge cases
# ----------------------------------------------------------------------------------------------------------------------
def test_unconfirmed_predictions_are_dropped():
    gt = _tracks([(0, 0, 0.0, 0.0)])
    pred = _tracks([(0, 3, 0.0, 0.0), (0, -1, 50.0, 50.0), (0, -1, 80.0, 80.0)])  # -1 twice: no duplicate error
    m = mot_metrics(gt, pred)
    assert (m["FP"], m["num_pred"], m["num_pred_ids"]) == (0, 1, 1)


def test_duplicate_frame_and_id_names_the_row():
    gt = _tracks([(0, 0, 0.0, 0.0), (1, 0, 1.0, 0.0), (1, 1, 5.0, 5.0), (1, 0, 2.0, 0.0)])
    with pytest.raises(InputError, match=r"gt has track_id 0 twice in frame 1: row 3"):
        mot_metrics(gt, gt.iloc[:2])
    pred = _tracks([(2, 7, 0.0, 0.0), (2, 7, 1.0, 0.0)], size=8.0).set_axis([10, 11])
    with pytest.raises(InputError, match=r"pred has track_id 7 twice in frame 2: row 1 \(index 11\)"):
        mot_metrics(gt.iloc[:2], pred)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("x", np.nan, "column 'x' must hold a finite number; row 1"),
    ("frame", -1, "frame' must be >= 0"),
    ("track_id", 1.5, "column 'track_id' must hold an integer"),
])
def test_bad_values_are_input_errors(column, value, message):
    gt = _tracks([(0, 0, 0.0, 0.0), (1, 0, 1.0, 0.0)])
    bad = gt.copy()
    bad[column] = bad[column].astype(float)
    bad.loc[1, column] = value
    with pytest.raises(InputError, match=message):
        mot_metrics(gt, bad)


def test_missing_columns_and_bad_tables():
    gt = _tracks([(0, 0, 0.0, 0.0)])
    with pytest.raises(InputError, match="pred is missing column.*track_id"):
        mot_metrics(gt, gt.drop(columns="track_id"))
    with pytest.raises(InputError, match="w, h"):
        mot_metrics(gt, gt.drop(columns=["w", "h"]), metric="iou")
    assert mot_metrics(gt, gt.drop(columns=["w", "h", "score", "class_id"]))["MOTA"] == 1.0  # centre needs x, y
    with pytest.raises(InputError, match="DataFrame"):
        mot_metrics(gt, gt.to_numpy())


def test_predictions_after_the_last_gt_frame_are_false_positives():
    gt = _tracks([(f, 0, 0.0, 0.0) for f in range(5)])
    pred = _tracks([(f, 0, 0.0, 0.0) for f in range(8)])
    m = mot_metrics(gt, pred)
    assert (m["TP"], m["FP"], m["FN"]) == (5, 3, 0)
    assert m["MOTA"] == pytest.approx(1 - 3 / 5)
    with pytest.raises(InputError, match=r"pred has frame 5, outside the video's frames 0..4"):
        mot_metrics(gt, pred, n_frames=5)
    assert mot_metrics(gt, pred, n_frames=8)["FP"] == 3


def test_empty_ground_truth_gives_nan_not_zero():
    empty = _tracks([])
    pred = _tracks([(0, 1, 0.0, 0.0), (1, 1, 1.0, 0.0)])
    m = mot_metrics(empty, pred)
    for key in ("MOTA", "MODA", "MOTP", "recall", "IDR", "AssA", "LocA", "DetRe"):
        assert math.isnan(m[key]), key
    assert (m["FP"], m["precision"], m["IDF1"], m["HOTA"], m["DetA"]) == (2, 0.0, 0.0, 0.0, 0.0)
    both = mot_metrics(empty, empty)
    assert all(math.isnan(both[k]) for k in ("MOTA", "IDF1", "HOTA", "DetA", "precision", "recall"))
    assert both["FP"] == both["FN"] == both["num_gt"] == 0


def test_empty_prediction_scores_zero_where_defined():
    gt = _tracks([(0, 1, 0.0, 0.0), (1, 1, 1.0, 0.0)])
    m = mot_metrics(gt, _tracks([]))
    assert (m["MOTA"], m["recall"], m["IDF1"], m["HOTA"], m["FN"], m["ML"]) == (0.0, 0.0, 0.0, 0.0, 2, 1)
    assert math.isnan(m["precision"]) and math.isnan(m["IDP"]) and math.isnan(m["MOTP"])


def test_distractors_are_dont_care():
    """consider == 0 ground truth: a prediction on it is neither TP nor FP; far predictions stay FP."""
    gt = _tracks([(0, 0, 0.0, 0.0), (0, 1, 50.0, 0.0), (1, 0, 1.0, 0.0), (1, 1, 50.0, 0.0)])
    gt["consider"] = [1, 0, 1, 0]
    pred = _tracks([(0, 5, 0.0, 0.0), (0, 6, 52.0, 0.0), (1, 5, 1.0, 0.0), (1, 6, 80.0, 0.0)])
    m = mot_metrics(gt, pred)
    assert (m["TP"], m["FP"], m["FN"], m["num_gt"], m["num_pred"]) == (2, 1, 0, 2, 3)
    assert m["MOTA"] == pytest.approx(1 - 1 / 2)


def test_unknown_ids_and_row_order_do_not_matter(scene):
    gt, pred = scene(5)
    ref = mot_metrics(gt, pred)
    shuffled = pred.sample(frac=1.0, random_state=0)
    shuffled["track_id"] = shuffled["track_id"] * 7919 + 123_456
    shifted_gt, shifted_pred = gt.copy(), shuffled.copy()
    for df in (shifted_gt, shifted_pred):
        df["x"] += 1000.0
        df["y"] -= 500.0
    got = mot_metrics(shifted_gt.sample(frac=1.0, random_state=1), shifted_pred)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=1e-9), key


def test_evaluate_sequences_rules(make_tracks):
    gt = make_tracks([(0, 0, 0.0, 0.0)])
    with pytest.raises(InputError, match="at least one"):
        evaluate_sequences({})
    with pytest.raises(InputError, match="OVERALL"):
        evaluate_sequences({"OVERALL": (gt, gt)})
    with pytest.raises(InputError, match="sequence 'b': pred is missing"):
        evaluate_sequences({"a": (gt, gt), "b": (gt, gt.drop(columns="x"))})
    with pytest.raises(InputError, match="sequence 'a': pred has frame 3"):
        evaluate_sequences({"a": (gt, make_tracks([(3, 0, 0.0, 0.0)]))}, n_frames={"a": 2})
    table = evaluate_sequences({"a": (gt, gt), "empty": (make_tracks([]), make_tracks([]))}, hota=False)
    assert "HOTA" not in table.columns
    assert table.loc["OVERALL", "MOTA"] == 1.0 and math.isnan(table.loc["empty", "MOTA"])


def test_metric_ranges_on_random_scenes(scene):
    for seed in range(10, 14):
        gt, pred = scene(seed, n_frames=40)
        m = mot_metrics(gt, pred)
        for key in ("IDF1", "IDP", "IDR", "HOTA", "DetA", "AssA", "LocA", "precision", "recall"):
            assert 0.0 <= m[key] <= 1.0, key
        assert m["MOTA"] <= 1.0 and m["MODA"] >= m["MOTA"]
        assert m["TP"] + m["FN"] == m["num_gt"] and m["TP"] + m["FP"] == m["num_pred"]
        assert m["MT"] + m["PT"] + m["ML"] == m["num_gt_ids"]
        assert math.isfinite(m["HOTA"]) and math.isfinite(m["MOTP"])


def test_import_pulls_in_no_heavy_or_upstream_packages():
    code = ("import sys; import spermtrack; before = set(sys.modules); import spermtrack.eval.mot, "
            "spermtrack.eval.detection; new = set(sys.modules) - before; "
            "bad = sorted(m for m in new if m.split('.')[0] in ('torch', 'ultralytics', 'motmetrics', 'trackeval') "
            "or m.startswith('spermtrack.io')); print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_speed_1500_frames_30_objects(capsys):
    """Not a timed assertion: prints the scoring time of a 1,500-frame, 30-object video."""
    rng = np.random.default_rng(0)
    n_f, n_o = 1500, 30
    frame, tid = np.repeat(np.arange(n_f), n_o), np.tile(np.arange(n_o), n_f)
    xy = rng.uniform(0, 600, (n_o, 2))[tid] + rng.normal(0, 1.5, (n_o, 2))[tid] * frame[:, None]
    gt = pd.DataFrame({"frame": frame, "track_id": tid, "x": xy[:, 0], "y": xy[:, 1], "w": 8.0, "h": 8.0})
    pred = gt.assign(x=gt.x + rng.normal(0, 2, len(gt)), y=gt.y + rng.normal(0, 2, len(gt)),
                     track_id=tid + 100 * (frame // 300))
    t0 = time.perf_counter()
    m = mot_metrics(gt, pred)
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\nmot_metrics, 1500 frames x 30 objects, motmetrics + HOTA: {elapsed:.2f} s "
              f"(MOTA {m['MOTA']:.3f}, IDF1 {m['IDF1']:.3f}, HOTA {m['HOTA']:.3f})")
    assert m["IDF1"] == pytest.approx(0.2)


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_tud_through_the_project_mot_reader(name):
    """The same numbers when the files are read with spermtrack.io.mot.read_mot (if present)."""
    import motmetrics

    io_mot = pytest.importorskip("spermtrack.io.mot")
    if not hasattr(io_mot, "read_mot"):
        pytest.skip("spermtrack.io.mot.read_mot not available")
    folder = os.path.join(os.path.dirname(motmetrics.__file__), "data", name)
    gt = io_mot.read_mot(os.path.join(folder, "gt.txt"))
    pred = io_mot.read_mot(os.path.join(folder, "test.txt"))
    m = mot_metrics(gt, pred, metric="iou")
    assert m["MOTA"] == pytest.approx(MOTMETRICS_TUD[name][13], abs=1e-6)
    assert m["IDF1"] == pytest.approx(MOTMETRICS_TUD[name][0], abs=1e-6)
    assert m["HOTA"] == pytest.approx(HOTA_TUD[name], abs=1e-6)


# ----------------------------------------------------------------------------------------------------------------------
# Identity oracle
# ----------------------------------------------------------------------------------------------------------------------
def test_oracle_keeps_paired_detections_with_their_truth_ids_and_drops_the_rest():
    gt = _tracks([(0, 7, 10, 10), (0, 9, 50, 50), (1, 7, 12, 10), (1, 9, 48, 50), (2, 7, 14, 10)])
    # frame 0: both found, one false positive; frame 1: only cell 9 (3 px off); frame 2: cell 7 missed,
    # a detection 11 px away stays unpaired at a 10 px gate
    dets = pd.DataFrame({"frame": [0, 0, 0, 1, 2], "x": [11.0, 49.0, 200.0, 48.0, 25.0],
                         "y": [10.0, 50.0, 200.0, 53.0, 10.0], "score": [0.9, 0.8, 0.7, 0.6, 0.5]})
    out = oracle_tracks(dets, gt, gate=10.0)
    assert out[["frame", "track_id", "x", "score"]].values.tolist() == [[0, 7, 11.0, 0.9], [0, 9, 49.0, 0.8],
                                                                      [1, 9, 48.0, 0.6]]
    m = mot_metrics(gt, out, metric="centre", gate=10.0)
    assert (m["FP"], m["FN"], m["IDSW"]) == (0, 2, 0)


def test_oracle_of_the_truth_itself_scores_perfectly(scene):
    gt, _ = scene(seed=3)
    m = mot_metrics(gt, oracle_tracks(gt.drop(columns="track_id"), gt), metric="centre", gate=10.0)
    assert m["HOTA"] == pytest.approx(1.0) and m["IDF1"] == pytest.approx(1.0)


def test_oracle_pairs_one_to_one_when_two_cells_are_close():
    # two cells 4 px apart, one detection between them: it pairs with exactly one
    gt = _tracks([(0, 1, 10, 10), (0, 2, 14, 10)])
    dets = pd.DataFrame({"frame": [0], "x": [13.0], "y": [10.0]})
    assert oracle_tracks(dets, gt)["track_id"].tolist() == [2]


def test_oracle_names_what_is_missing_or_wrong():
    dets = pd.DataFrame({"frame": [0], "x": [1.0], "y": [1.0]})
    with pytest.raises(InputError, match="gt is missing column"):
        oracle_tracks(dets, pd.DataFrame({"frame": [0], "x": [1.0]}))
    with pytest.raises(InputError, match="gate must be"):
        oracle_tracks(dets, _tracks([(0, 1, 1, 1)]), gate=float("nan"))
