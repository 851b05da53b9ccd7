"""The ground-truth detector and its noise model."""

import numpy as np
import pandas as pd
import pytest

from spermtrack.detectors.gt import DetectionNoise, gt_detections
from spermtrack.errors import InputError


def _truth(n_tracks=10, n_frames=100):
    rng = np.random.default_rng(3)
    rows = []
    for k in range(n_tracks):
        x0, y0 = rng.uniform(50, 590), rng.uniform(50, 430)
        for f in range(n_frames):
            rows.append((f, x0 + 0.5 * f, y0, 18.0, 17.0, 1.0, 0, k + 1, f"id{k}"))
    return pd.DataFrame(rows, columns=["frame", "x", "y", "w", "h", "score", "class_id", "track_id", "gt_id"])


def test_exact_boxes_without_noise():
    gt = _truth()
    det = gt_detections(gt, width=640, height=480)
    assert len(det) == len(gt)
    assert "track_id" not in det.columns and "gt_id" not in det.columns
    np.testing.assert_array_equal(det.sort_values(["gt_track_id", "frame"])["x"].to_numpy(),
                                  gt.sort_values(["track_id", "frame"])["x"].to_numpy())
    assert (det["score"] == 1.0).all() and det["true_positive"].all()


def test_noise_rates_and_determinism():
    gt = _truth()
    noise = DetectionNoise(jitter_px=1.0, miss_rate=0.1, fp_per_frame=2.0, seed=5)
    a = gt_detections(gt, noise, width=640, height=480)
    b = gt_detections(gt, noise, width=640, height=480)
    pd.testing.assert_frame_equal(a, b)
    tp = a[a["true_positive"]]
    assert 0.85 * len(gt) < len(tp) < 0.95 * len(gt)
    assert 150 < (~a["true_positive"]).sum() < 250
    merged = tp.merge(gt, left_on=["frame", "gt_track_id"], right_on=["frame", "track_id"])
    dx = merged["x_x"] - merged["x_y"]
    assert 0.9 < dx.std() < 1.1
    assert a["x"].between(0, 640).all() and a["y"].between(0, 480).all()
    assert a["frame"].is_monotonic_increasing


def test_parse_noise_spec():
    noise = DetectionNoise.parse("jitter=0.5, miss=0.1,fp=3,seed=2")
    assert (noise.jitter_px, noise.miss_rate, noise.fp_per_frame, noise.seed) == (0.5, 0.1, 3.0, 2)
    with pytest.raises(InputError, match="bad noise spec"):
        DetectionNoise.parse("jiter=0.5")
    with pytest.raises(InputError, match="not a number"):
        DetectionNoise.parse("miss=abc")
    with pytest.raises(InputError, match="miss_rate"):
        DetectionNoise(miss_rate=1.0)


def _runs(flags: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a boolean sequence."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


def test_misses_come_in_runs_at_the_given_rate():
    gt = _truth(n_tracks=20, n_frames=500)
    det = gt_detections(gt, DetectionNoise(miss_rate=0.2, miss_run=6.0, seed=2), width=640, height=480)
    runs = []
    for k, g in gt.groupby("track_id"):
        seen = np.isin(g["frame"], det.loc[det["gt_track_id"] == k, "frame"])
        runs += _runs(~seen)
    assert 1 - det["true_positive"].sum() / len(gt) == pytest.approx(0.2, abs=0.04)
    assert np.mean(runs) == pytest.approx(6.0, rel=0.25)
    independent = gt_detections(gt, DetectionNoise(miss_rate=0.2, seed=2), width=640, height=480)
    runs = [r for k, g in gt.groupby("track_id")
            for r in _runs(~np.isin(g["frame"], independent.loc[independent["gt_track_id"] == k, "frame"]))]
    assert np.mean(runs) < 1.5


def test_persistent_false_objects_stay_where_they_are():
    gt = _truth(n_tracks=5, n_frames=1000)
    noise = DetectionNoise(fp_objects=6.0, fp_life=20.0, fp_score=(0.4, 0.85), seed=4)
    det = gt_detections(gt, noise, width=640, height=480)
    fp = det[~det["true_positive"]]
    assert len(fp) / 1000 == pytest.approx(0.9 * 6.0, rel=0.2)
    assert fp["score"].between(0.25, 1.0).all() and (fp["gt_track_id"] == -1).all()
    near = []
    for f, rows in fp.groupby("frame"):
        before = fp[fp["frame"] == f - 1][["x", "y"]].to_numpy()
        if len(before):
            d = np.hypot(rows["x"].to_numpy()[:, None] - before[:, 0], rows["y"].to_numpy()[:, None] - before[:, 1])
            near += list(d.min(axis=1) < 4)
    assert np.mean(near) > 0.8


def test_new_noise_fields_at_their_defaults_change_nothing():
    gt = _truth()
    old = DetectionNoise(jitter_px=0.75, miss_rate=0.1, fp_per_frame=2.0, seed=11)
    same = DetectionNoise(jitter_px=0.75, miss_rate=0.1, fp_per_frame=2.0, seed=11, miss_run=1.0, fp_objects=0.0)
    pd.testing.assert_frame_equal(gt_detections(gt, old, width=640, height=480),
                                  gt_detections(gt, same, width=640, height=480))
    assert DetectionNoise.parse("miss=0.1,run=4,fpobj=3,life=50") == DetectionNoise(miss_rate=0.1, miss_run=4,
                                                                                   fp_objects=3, fp_life=50)
