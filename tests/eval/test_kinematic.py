"""Kinematic accuracy: track matching by majority overlap, per-pair errors and their medians."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError
from spermtrack.eval.kinematic import (MATCH_COLUMNS, kinematic_accuracy, kinematic_errors, match_tracks,
                                       summarize_kinematic_errors, summary_keys, truth_reference)


@pytest.fixture(scope="module")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory):
    """One synthetic VISEM-Tracking video, 2 s at 25 fps, mostly motile sperm, with its exact truth."""
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    root = tmp_path_factory.mktemp("synth_kin")
    config = SynthConfig(seconds=2.0, fps=25.0, density=15.0, grade_mix=(0.4, 0.3, 0.2, 0.1), write_images=False)
    write_synthetic_dataset(root, n_videos=1, config=config, seed=5, progress=False)
    return root


def tracks(rows, **extra) -> pd.DataFrame:
    """Tracks table from (frame, track_id, x, y) tuples, 20 px boxes."""
    df = pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"])
    df["w"] = 20.0
    df["h"] = 20.0
    df["score"] = 1.0
    df["class_id"] = 0
    for k, v in extra.items():
        df[k] = v
    return df


def line(track_id: int, frames, x0: float, y0: float, vx: float = 1.0, vy: float = 0.0) -> list[tuple]:
    return [(f, track_id, x0 + vx * f, y0 + vy * f) for f in frames]


# ----------------------------------------------------------------------------------------------------------------------
# Matching
# ----------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def scene() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two true tracks; A predicted whole, B split into two fragments, plus a spurious track far away."""
    gt = tracks(line(1, range(10), 100, 100) + line(2, range(10), 100, 300))
    pred = tracks(line(11, range(10), 100.5, 100) + line(21, range(6), 100, 301) + line(22, range(6, 10), 100, 301)
                  + line(99, range(10), 500, 50))
    return gt, pred


def test_fragments_match_their_longest_piece(scene):
    gt, pred = scene
    m = match_tracks(gt, pred, gate=10)
    assert tuple(m.columns) == MATCH_COLUMNS and m.attrs["method"] == "distance"
    assert m[["gt_track_id", "track_id"]].values.tolist() == [[1, 11], [2, 21]]
    b = m.iloc[1]
    assert (b["n_common"], b["n_pred"], b["n_gt"]) == (6, 6, 10)
    assert b["overlap"] == 1.0 and b["coverage"] == pytest.approx(0.6)


def test_majority_vote_and_min_overlap():
    gt = tracks(line(1, range(10), 100, 100) + line(2, range(10), 100, 300))
    # track 5 follows A for 3 frames, then B for 7: it is B's
    pred = tracks([(f, 5, 100 + f, 100) for f in range(3)] + [(f, 5, 100 + f, 300) for f in range(3, 10)]
                  # track 6: 4 frames on A (while 5 is on B), 6 frames nowhere near anything -> overlap 0.4
                  + [(f, 6, 100 + f, 101) for f in range(3, 7)] + [(f, 6, 600, 20) for f in range(10, 16)])
    m = match_tracks(gt, pred, gate=10)
    assert m[["gt_track_id", "track_id"]].values.tolist() == [[2, 5]]
    loose = match_tracks(gt, pred, gate=10, min_overlap=0.3)
    assert loose[["gt_track_id", "track_id"]].values.tolist() == [[1, 6], [2, 5]]


def test_a_true_track_keeps_the_strongest_voter_and_ties_go_to_the_smaller_id():
    gt = tracks(line(1, range(10), 100, 100))
    pred = tracks(line(7, range(5), 100, 100) + line(3, range(5, 10), 100, 100))
    assert match_tracks(gt, pred)["track_id"].tolist() == [3]


def test_unconfirmed_rows_are_ignored(scene):
    gt, pred = scene
    pred = pred.copy()
    pred.loc[pred["track_id"] == 11, "track_id"] = -1
    m = match_tracks(gt, pred)
    assert m["gt_track_id"].tolist() == [2]


def test_labels_method_uses_the_detections_own_identity(scene):
    gt, pred = scene
    labels = np.select([pred["track_id"] == 11, pred["track_id"].isin([21, 22])], [1, 2], -1).astype(float)
    labelled = pred.assign(gt_track_id=labels, x=pred["x"] + 50)  # positions far off: labels decide
    m = match_tracks(gt, labelled)
    assert m.attrs["method"] == "labels"
    assert m[["gt_track_id", "track_id"]].values.tolist() == [[1, 11], [2, 21]]
    # rows without a label (interpolated by a tracker) do not vote: 21 keeps 2 votes, fragment 22 now wins B
    labelled.loc[labelled["track_id"] == 21, "gt_track_id"] = [2, 2, np.nan, np.nan, np.nan, np.nan]
    m = match_tracks(gt, labelled)
    assert m[["gt_track_id", "track_id", "n_common", "n_pred"]].values.tolist() == [[1, 11, 10, 10], [2, 22, 4, 4]]
    assert match_tracks(gt, labelled, method="distance")["track_id"].tolist() == []  # 50 px away
    # a column with only false positives (-1) falls back to distance under "auto"
    assert match_tracks(gt, pred.assign(gt_track_id=-1)).attrs["method"] == "distance"


def test_matching_bad_input(scene):
    gt, pred = scene
    with pytest.raises(InputError, match="method must be"):
        match_tracks(gt, pred, method="iou")
    with pytest.raises(InputError, match="gt_track_id"):
        match_tracks(gt, pred, method="labels")
    with pytest.raises(InputError, match="min_overlap"):
        match_tracks(gt, pred, min_overlap=0)
    with pytest.raises(InputError, match="gate"):
        match_tracks(gt, pred, gate=-1)
    with pytest.raises(InputError, match="track_id"):
        match_tracks(gt, pred.drop(columns="track_id"))
    with pytest.raises(InputError, match="integers"):
        match_tracks(gt, pred.assign(track_id=1.5))


def test_no_prediction_matches_nothing(scene):
    gt, pred = scene
    m = match_tracks(gt, pred.iloc[:0])
    assert len(m) == 0 and tuple(m.columns) == MATCH_COLUMNS


# ----------------------------------------------------------------------------------------------------------------------
# Errors and summaries
# ----------------------------------------------------------------------------------------------------------------------
def kin(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["track_id", "vcl_um_s", "vsl_um_s", "lin", "grade"])


def test_errors_are_relative_for_speeds_and_absolute_for_ratios():
    pred = kin([(11, 55.0, 18.0, 0.33, "b"), (21, 10.0, 0.9, 0.09, "d"), (99, 1.0, 1.0, 1.0, "c")])
    ref = kin([(1, 50.0, 20.0, 0.40, "b"), (2, 8.0, 0.5, 0.06, "c")])
    matches = pd.DataFrame({"track_id": [11, 21, 30], "gt_track_id": [1, 2, 2], "overlap": [1.0, 0.9, 0.8],
                            "coverage": [1.0, 0.6, 0.4]})
    e = kinematic_errors(pred, ref, matches)
    assert e["track_id"].tolist() == [11, 21]  # track 30 has no kinematics row (not a sperm track)
    assert e["vcl_err"].tolist() == pytest.approx([0.1, 0.25])
    assert e["vsl_err"].iloc[0] == pytest.approx(-0.1)
    assert math.isnan(e["vsl_err"].iloc[1])  # reference 0.5 um/s < min_reference: relative error undefined
    assert e["lin_err"].tolist() == pytest.approx([-0.07, 0.03])
    assert e["grade_pred"].tolist() == ["b", "d"] and e["grade_ref"].tolist() == ["b", "c"]
    assert "vap_err" not in e.columns  # parameters missing from the tables are skipped

    s = summarize_kinematic_errors(e, n_reference=4)
    assert tuple(s) == summary_keys()
    assert s["n_matched"] == 2 and s["matched_pct"] == 50.0
    assert s["vcl_mdape"] == pytest.approx(17.5) and s["vcl_mdpe"] == pytest.approx(17.5)
    assert s["vsl_mdape"] == pytest.approx(10.0) and s["vsl_mdpe"] == pytest.approx(-10.0)
    assert s["lin_mdae"] == pytest.approx(0.05) and s["lin_mde"] == pytest.approx(-0.02)
    assert math.isnan(s["vap_mdape"])
    assert s["n_graded_pairs"] == 2 and s["grade_accuracy_pct"] == 50.0


def test_summary_of_nothing_is_nan_not_zero():
    s = summarize_kinematic_errors(pd.DataFrame(), n_reference=0)
    assert s["n_matched"] == 0 and math.isnan(s["matched_pct"]) and math.isnan(s["vcl_mdape"])
    assert math.isnan(s["grade_accuracy_pct"])


def test_errors_reject_repeated_ids():
    pred = kin([(11, 55.0, 18.0, 0.33, "b"), (11, 10.0, 0.9, 0.09, "d")])
    with pytest.raises(InputError, match="twice"):
        kinematic_errors(pred, pred.iloc[:1], pd.DataFrame({"track_id": [], "gt_track_id": [], "overlap": [],
                                                            "coverage": []}))


def test_truth_reference_maps_objects_to_the_labels_ids():
    objects = pd.DataFrame({
        "track_id": [1, 2, 3], "gt_id": ["aa", "bb", "cc"], "class_id": [0, 1, 0], "grade": ["a", np.nan, "d"],
        "vcl_um_s": [80.0, 1.0, 2.0], "vsl_um_s": [40.0, 0.5, 0.0], "vap_um_s": [50.0, 0.5, 1.0],
        "progression_um_s": [39.0, 0.4, 0.1], "bcf_hz": [20.0, 0.0, 0.0], "alh_um": [2.0, 0.0, 0.0]})
    gt = tracks([(0, 7, 1.0, 1.0), (1, 7, 2.0, 1.0), (0, 9, 5.0, 5.0)], gt_id=["cc", "cc", "aa"])
    ref = truth_reference(objects, gt)
    assert ref["track_id"].tolist() == [9, 7] and ref["gt_id"].tolist() == ["aa", "cc"]  # class 1 dropped
    first = ref.iloc[0]
    assert first["lin"] == 0.5 and first["str"] == 0.8 and first["wob"] == 0.625
    assert first["alh_mean_um"] == 4.0 and first["grade"] == "a"  # peak-to-peak = 2 x amplitude
    assert truth_reference(objects)["track_id"].tolist() == [1, 3]  # own ids without a ground truth
    with pytest.raises(InputError, match="missing column"):
        truth_reference(objects.drop(columns="grade"))


def test_identical_prediction_has_zero_error():
    """Predicting the ground truth itself: everything matched, every error zero, every grade the same."""
    from spermtrack.kinematics import analyze_tracks, get_preset

    rng = np.random.default_rng(0)
    rows = []
    for k in range(6):
        xy = rng.uniform(100, 400, 2) + np.cumsum(rng.normal(0.0, 0.4 + k * 0.3, (120, 2)), axis=0)
        rows += [(f, k + 1, *xy[f]) for f in range(120)]
    gt = tracks(rows)
    table = analyze_tracks(gt, 0.351, 50.0, get_preset("who2021")).table
    pred = gt.assign(track_id=gt["track_id"] + 100)
    pred_table = table.assign(track_id=table["track_id"] + 100)
    errors, summary = kinematic_accuracy(gt, pred, pred_table, table)
    assert summary["n_matched"] == 6 and summary["matched_pct"] == 100.0
    for key in ("vcl_mdape", "vsl_mdape", "vap_mdape", "prog_mdape", "lin_mdae", "str_mdae", "wob_mdae"):
        assert summary[key] == pytest.approx(0.0, abs=1e-9)
    assert summary["grade_accuracy_pct"] == 100.0
    assert errors.attrs["method"] == "distance"


def test_synthetic_truth_is_recovered_from_gt_detections(tiny_synth):
    """End to end on a synthetic video: gt boxes -> spermtrack -> kinematics vs the exact truth."""
    from spermtrack.detectors import gt_detections
    from spermtrack.io.synth_truth import read_synthetic_truth
    from spermtrack.io.visem import read_visem_video
    from spermtrack.kinematics import analyze_tracks, get_preset
    from spermtrack.tracker import track

    video = read_visem_video(tiny_synth / "1", um_per_px=VISEM_UM_PER_PX)
    _, objects = read_synthetic_truth(tiny_synth / "1")
    rec = video.recording
    dets = gt_detections(video.ground_truth, width=rec.width, height=rec.height, n_frames=rec.n_frames)
    pred = track(dets, "sperm", fps=rec.fps, um_per_px=rec.um_per_px)
    config = get_preset("who2021")
    table = analyze_tracks(pred[pred["class_id"] == 0], rec.um_per_px, rec.fps, config).table
    reference = truth_reference(objects, video.ground_truth, alh_factor=config.alh_factor)
    errors, summary = kinematic_accuracy(video.ground_truth, pred, table, reference)
    assert errors.attrs["method"] == "labels"  # the gt detector's own identities
    assert summary["matched_pct"] > 85
    # net progression (what the WHO grade rests on), VSL and VAP within a few percent of the exact truth
    assert summary["prog_mdape"] < 5 and summary["vsl_mdape"] < 5 and summary["vap_mdape"] < 5
    assert summary["grade_accuracy_pct"] > 90
