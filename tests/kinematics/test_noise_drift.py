"""Noise estimation, noise-adaptive smoothing, the c/d motion statistic and drift estimation."""

from __future__ import annotations

import numpy as np
import pytest

from spermtrack.kinematics import estimate_drift, get_preset
from spermtrack.kinematics._segments import Layout, centred_mean, local_quadratic, savgol_weights
from spermtrack.kinematics.noise import motion_statistic, smooth_positions, track_noise, video_noise
from spermtrack.kinematics.trajectory import average_path


def _layout(*lengths):
    return Layout.from_lengths(np.array(lengths))


def test_gasser_estimate_recovers_the_jitter_of_still_and_straight_tracks(rng):
    n = 400
    still = rng.normal(0, 0.7, (n, 2)) + 50
    moving = np.c_[np.arange(n) * 1.3, np.arange(n) * 0.4] + rng.normal(0, 0.7, (n, 2))
    xy = np.vstack([still, moving])
    sigma, n_triples = track_noise(xy, _layout(n, n), np.ones(2 * n, bool))
    assert sigma == pytest.approx([0.7, 0.7], rel=0.1)
    assert n_triples.tolist() == [n - 2, n - 2]


def test_short_tracks_have_no_noise_estimate():
    sigma, _ = track_noise(np.zeros((5, 2)), _layout(5), np.ones(5, bool))
    assert np.isnan(sigma).all()


def test_video_noise_takes_the_lowest_estimates():
    sig = np.array([0.5, 0.52, 0.49, 2.0, 3.0, 1.5, np.nan] + [4.0] * 20)
    sigma, used = video_noise(sig)
    assert sigma == pytest.approx(0.5) and used == 3
    assert video_noise(np.array([np.nan])) == (0.0, 0)


def test_savgol_weights_match_the_closed_form():
    np.testing.assert_allclose(savgol_weights(2, 0), np.array([-3, 12, 17, 12, -3]) / 35)
    w = savgol_weights(3, -3)                      # evaluated at the window's first point
    assert w.sum() == pytest.approx(1.0)


def test_local_quadratic_reproduces_a_parabola_including_the_ends():
    t = np.arange(30, dtype=float)
    xy = np.c_[0.1 * t**2 - t, 3 * t + 2]
    sm, hat = local_quadratic(xy, _layout(30), 4)
    np.testing.assert_allclose(sm, xy, atol=1e-9)
    assert hat[15] == pytest.approx(savgol_weights(4, 0)[4])


def test_local_quadratic_is_exact_on_parabolas_in_tracks_of_any_length():
    lengths = (1, 2, 3, 5, 6, 9, 17, 30)
    parts = []
    for n in lengths:
        t = np.arange(n, dtype=float)
        parts.append(np.c_[0.3 * t**2 - 2 * t + n, -0.1 * t**2 + 5])
    xy = np.vstack(parts)
    for half in (2, 4, 8):
        sm, hat = local_quadratic(xy, _layout(*lengths), half)
        np.testing.assert_allclose(sm, xy, atol=1e-9)
        assert ((hat > 0) & (hat <= 1 + 1e-12)).all()


def test_centred_mean_equals_the_reference_average_path(rng):
    a, b = rng.normal(0, 1, (17, 2)), rng.normal(0, 1, (3, 2))
    out = centred_mean(np.vstack([a, b]), _layout(17, 3), 2)
    np.testing.assert_allclose(out[:17], average_path(a, 5))
    np.testing.assert_allclose(out[17:], average_path(b, 5))


def test_smoothing_leaves_noise_free_tracks_alone_and_smooths_still_noisy_ones(rng):
    n = 300
    line = np.c_[np.arange(n) * 1.0, np.arange(n) * 0.5]
    sm, chosen = smooth_positions(line, _layout(n), 0.0, (2, 4, 8))
    np.testing.assert_array_equal(sm, line)
    assert chosen.tolist() == [0]
    still = rng.normal(0, 0.5, (n, 2))
    sm, chosen = smooth_positions(still, _layout(n), 0.5, (2, 4, 8))
    assert chosen.tolist() == [8]
    assert sm.std() < 0.5 * still.std()


def test_motion_statistic_separates_noise_from_a_beating_head(rng):
    n = 500
    t = np.arange(n) / 50.0
    still = rng.normal(0, 0.5, (n, 2))
    beat = np.c_[1.5 * np.sin(2 * np.pi * 6 * t), np.zeros(n)] + rng.normal(0, 0.5, (n, 2))
    xy = np.vstack([still, beat])
    motion, floor, pairs = motion_statistic(xy, _layout(n, n), np.ones(2 * n, bool), 0.5, um_per_px=1.0,
                                            max_lag=5, margin=0.15, z=3.0)
    assert motion[0] < floor[0] and motion[1] > floor[1]
    assert pairs.tolist() == [n - 1, n - 1]


def test_estimate_drift_finds_the_flow_of_the_immotile_cells(make_tracks, rng):
    n = 200
    flow = np.c_[0.5 * np.arange(n), -0.25 * np.arange(n)]
    paths = {k: np.array([50.0 * k, 300.0]) + flow + rng.normal(0, 0.3, (n, 2)) for k in range(1, 8)}
    for k, v in zip(range(10, 14), ([3, 0], [0, 3], [-2, -2], [2.5, -1])):
        paths[k] = np.array([300.0, 100.0 + 30 * k]) + flow + np.outer(np.arange(n), v)
    drift = estimate_drift(make_tracks(paths), fps=50.0, um_per_px=0.351)
    assert drift["estimated"].mean() > 0.7
    mid = drift.iloc[40:160]
    np.testing.assert_allclose(mid["dx_px"], 0.5, atol=0.05)
    np.testing.assert_allclose(mid["dy_px"], -0.25, atol=0.05)
    assert drift["x_px"].iloc[-1] == pytest.approx(0.5 * (n - 1), rel=0.05)


def test_no_drift_is_invented_from_a_few_swimmers(make_tracks):
    n = 150
    paths = {k: np.array([100.0 * k, 100.0]) + np.outer(np.arange(n), v)
             for k, v in enumerate(([2, 0], [0, 2], [-1.5, 1], [1, -2.5]), start=1)}
    drift = estimate_drift(make_tracks(paths), fps=50.0, um_per_px=0.351)
    assert not drift["estimated"].any()
    assert (drift[["x_px", "y_px"]].to_numpy() == 0).all()


def test_drift_settings_come_from_the_config(make_tracks, rng):
    n = 120
    paths = {k: np.array([60.0 * k, 200.0]) + rng.normal(0, 0.2, (n, 2)) for k in range(1, 5)}
    four = make_tracks(paths)
    assert not estimate_drift(four, fps=50.0, um_per_px=0.351)["estimated"].any()          # needs 5 tracks
    cfg = get_preset(drift_min_tracks=3)
    assert estimate_drift(four, fps=50.0, um_per_px=0.351, config=cfg)["estimated"].any()


@pytest.mark.parametrize("n_frames", [1, 5, 30, 49])
def test_recordings_shorter_than_the_drift_window(n_frames):
    """A clip of a second or less (fewer frames than the drift window) is graded 'too_short', never a crash."""
    import pandas as pd

    from spermtrack.kinematics import analyze_tracks, summarize

    one = pd.DataFrame({"frame": np.arange(n_frames), "x": 10 + 0.5 * np.arange(n_frames), "y": 20.0, "w": 20.0,
                        "h": 20.0, "score": 1.0, "class_id": 0, "track_id": 1})
    tracks = pd.concat([one.assign(track_id=k, x=one["x"] + 12 * k) for k in range(1, 8)], ignore_index=True)
    result = analyze_tracks(tracks, 0.351, 50.0)
    assert (result.table["ungraded_reason"] == "too_short").all()
    assert summarize(result)["counts"]["ungraded"] == 7
