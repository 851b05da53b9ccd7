"""The compiled (numba) online engine against the numpy engine it reproduces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.detectors.gt import NOISE_PROFILES, gt_detections
from spermtrack.synth import SynthConfig, simulate_video
from spermtrack.tracker import Tracker, compiled, track
from spermtrack.tracker.associate import solve_pairs
from spermtrack.tracker.batch import run_online
from spermtrack.tracker.config import get_config
from spermtrack.tracker.online import detection_arrays, frame_order

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")


@pytest.fixture(scope="module")
def truth():
    video = simulate_video(SynthConfig(seconds=3, fps=50.0, density=40.0, write_images=False), seed=3,
                           video_id="c")
    return video.truth[video.truth["class_id"] == 0]


def _sorted_arrays(dets, cfg):
    f, b, s, c = detection_arrays(dets)
    cfg = cfg.adapted(s)
    o = frame_order(f, b, s, c)
    return (f[o], b[o], s[o], c[o]), cfg


def _both(dets, **overrides):
    arrays, cfg = _sorted_arrays(dets, get_config("sperm_online", fps=50.0, **overrides))
    return arrays[1], run_online(*arrays, cfg, engine="numpy"), run_online(*arrays, cfg, engine="compiled")


@pytest.mark.parametrize("overrides", [{}, {"two_stage": False}, {"observation_recovery": False},
                                       {"class_aware": True}, {"boxes": "filtered"}, {"min_hits": 1},
                                       {"max_age": 1, "tentative_max_age": 2},
                                       {"gate_growth": 0.0, "max_distance": 30.0},
                                       {"confident_max_age": 12}, {"confident_max_age": 2, "max_age": 4},
                                       {"size_weight": 2.0}, {"size_weight": 0.3, "two_stage": False},
                                       {"innovation_weight": 0.0},
                                       {"innovation_weight": 0.5, "innovation_floor": 0.2, "innovation_ceiling": 8.0}])
def test_compiled_engine_gives_the_numpy_engines_tracks(truth, overrides):
    rng = np.random.default_rng(7)
    dets = gt_detections(truth, NOISE_PROFILES["detector"], width=640, height=480)
    dets["score"] = rng.uniform(0.05, 1.0, len(dets))  # both association stages and refused births
    dets["class_id"] = rng.integers(0, 2, len(dets))
    dets[["w", "h"]] *= rng.uniform(0.7, 1.3, (len(dets), 2))  # sizes that differ, for the size term
    dets = dets[~dets["frame"].isin([10, 11, 12, 40])]  # frames without detections
    box, (uid_a, tid_a, conf_a, filt_a), (uid_b, tid_b, conf_b, filt_b) = _both(dets, **overrides)
    assert (tid_a >= 0).sum() > 0.1 * len(tid_a)  # random classes break tracks when class_aware
    np.testing.assert_array_equal(uid_a, uid_b)
    np.testing.assert_array_equal(tid_a, tid_b)
    np.testing.assert_array_equal(conf_a, conf_b)
    if filt_a is not None:
        np.testing.assert_allclose(filt_b, filt_a, rtol=0, atol=1e-9)
        assert (filt_b[tid_b >= 0, :2] != box[tid_b >= 0, :2]).mean() > 0.5  # tracked rows: the filtered centre


def test_compiled_matching_is_the_optimal_one(monkeypatch):
    rng = np.random.default_rng(1)
    for _ in range(200):
        n_r, n_c = rng.integers(1, 9, 2)
        i, j = np.nonzero(rng.random((n_r, n_c)) < 0.5)
        cost = rng.uniform(0, 10, len(i))  # continuous costs: one optimum
        got = solve_pairs(i, j, cost, 8.0)
        with monkeypatch.context() as m:
            _numpy_only(m)
            expect = solve_pairs(i, j, cost, 8.0)  # lap.lapjv
        np.testing.assert_array_equal(got[0], expect[0])
        np.testing.assert_array_equal(got[1], expect[1])


def test_batch_tracking_is_the_same_on_either_engine(truth):
    dets = gt_detections(truth, NOISE_PROFILES["noisy"], width=640, height=480)
    cfg = get_config("sperm", fps=50.0)
    arrays, adapted = _sorted_arrays(dets, cfg)
    a, b = run_online(*arrays, adapted, engine="numpy"), run_online(*arrays, adapted, engine="compiled")
    np.testing.assert_array_equal(a[1], b[1])
    assert track(dets, "sperm", fps=50.0)["track_id"].nunique() > 10


def test_configs_the_compiled_engine_lacks_run_on_numpy(truth):
    dets = gt_detections(truth, None, width=640, height=480)
    for name in ("sort", "iou_bytetrack"):
        cfg = get_config(name)
        assert not compiled.supports(cfg)
        arrays, adapted = _sorted_arrays(dets, cfg)
        auto = run_online(*arrays, adapted)
        np.testing.assert_array_equal(auto[1], run_online(*arrays, adapted, engine="numpy")[1])
        with pytest.raises(ValueError, match="compiled engine"):
            run_online(*arrays, adapted, engine="compiled")
    with pytest.raises(ValueError, match="engine must be"):
        run_online(*arrays, adapted, engine="fast")


def _numpy_only(monkeypatch):
    monkeypatch.setattr(compiled, "available", lambda: False)


def test_compiled_filter_and_smoother_equal_the_numpy_ones(monkeypatch):
    from spermtrack.tracker.kalman import constant_velocity_model, filter_sequences, rts_smooth_sequences

    model = constant_velocity_model(accel_std=0.7, measurement_std=1.3, ndim=1)
    rng = np.random.default_rng(0)
    T, N = 40, 25
    lengths = np.sort(rng.integers(1, T + 1, N))[::-1].copy()
    z = rng.normal(0, 5, (T, N, 2, 1)).cumsum(axis=0)
    observed = rng.random((T, N)) < 0.8
    observed[0] = True
    fast = filter_sequences(z, observed, lengths, model, velocity_std=5.0)
    fast_xs = rts_smooth_sequences(fast, lengths, model.F)
    with monkeypatch.context() as m:
        _numpy_only(m)
        slow = filter_sequences(z, observed, lengths, model, velocity_std=5.0)
        slow_xs = rts_smooth_sequences(slow, lengths, model.F)
    assert set(fast) == set(slow)
    for key in slow:
        np.testing.assert_array_equal(fast[key], slow[key])
    np.testing.assert_allclose(fast_xs, slow_xs, rtol=0, atol=1e-9)
    assert np.isnan(fast_xs[lengths[-1]:, -1]).all()


def test_close_pairs_are_the_kd_trees_pairs():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 30, 3000)
    xy = rng.uniform(0, 100, (3000, 2))
    got = compiled.close_pairs(frame, xy, 3.0)
    tree = cKDTree(np.column_stack([xy, frame * 12.0])).query_pairs(3.0, output_type="ndarray")
    assert len(got) > 100
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, np.sort(tree, axis=1).tolist()))


def test_sperm_preset_tracks_equal_without_numba(truth, monkeypatch):
    dets = gt_detections(truth, NOISE_PROFILES["detector"], width=640, height=480)
    fast = track(dets, "sperm", fps=50.0)
    with monkeypatch.context() as m:
        _numpy_only(m)
        slow = track(dets, "sperm", fps=50.0)
    np.testing.assert_array_equal(fast["track_id"].to_numpy(), slow["track_id"].to_numpy())
    np.testing.assert_allclose(fast[["x_s", "y_s"]].to_numpy(), slow[["x_s", "y_s"]].to_numpy(), rtol=0, atol=1e-9)


def test_a_tie_between_identical_detections_goes_to_the_first_as_without_numba(monkeypatch):
    i = np.array([0, 0, 0], dtype=np.int64)
    j = np.array([2, 0, 1], dtype=np.int64)  # out of column order, all the same cost
    cost = np.array([4.0, 4.0, 4.0])
    row_match = np.full(1, -1, dtype=np.int64)
    compiled._solve_pairs(i, j, cost, 3, 1, 3, 10.0, row_match)
    with monkeypatch.context() as m:
        _numpy_only(m)
        assert row_match[0] == solve_pairs(i, np.sort(j), cost, 10.0)[1][0] == 0  # pairs as candidate_pairs orders them


def test_duplicated_detections_stream_and_batch_alike(walkers):
    dets = walkers([(50, 50, 2, 0), (58, 50, -2, 0)], 30)
    dets = pd.concat([dets, dets]).sort_values("frame", kind="stable").reset_index(drop=True)  # every row twice
    batch = track(dets, "sperm_online", fps=50.0)
    tracker = Tracker("sperm_online", fps=50.0)
    stream = pd.concat([tracker.update(frame) for _, frame in dets.groupby("frame")])
    np.testing.assert_array_equal(batch["track_id"].to_numpy(), stream.loc[batch.index, "track_id"].to_numpy())
    assert batch["track_id"].nunique() >= 3


def test_unsorted_frames_and_infinite_gates_are_refused():
    cfg = get_config("sperm_online")
    box = np.ones((3, 4))
    with pytest.raises(ValueError, match="sorted by frame"):
        compiled.run_compiled(np.array([0, 1, 0]), box, np.ones(3), np.zeros(3, dtype=np.int64), cfg, np.eye(4), 1.0)
    assert not compiled.supports(get_config("sperm_online", max_distance=1e160))


def test_filter_dispatch_takes_only_the_per_axis_model():
    from spermtrack.tracker.kalman import MotionModel, _per_axis, constant_velocity_model

    model = constant_velocity_model(accel_std=0.5, measurement_std=1.0, ndim=1)
    assert _per_axis(model)
    assert not _per_axis(constant_velocity_model(accel_std=0.5, measurement_std=1.0))
    assert not _per_axis(MotionModel(F=model.F.T.copy(), Q=model.Q, H=model.H, R=model.R))
    assert not _per_axis(MotionModel(F=model.F, Q=model.Q, H=np.array([[0.0, 1.0]]), R=model.R))
