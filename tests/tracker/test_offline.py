"""Helpers of the offline steps and the shared-covariance sequence filter they use."""

import numpy as np

from spermtrack.tracker.kalman import (constant_velocity_model, filter_sequences, rts_smooth_sequences,
                                       transition_powers)
from spermtrack.tracker import get_config
from spermtrack.tracker.offline import (SIZE_WINDOW, axis_model, close_gaps, close_long_gaps, continuity_d2, end_sizes,
                                        group_spans, interpolate_gaps, label_positions)


def test_label_positions_match_a_binary_search_and_flag_missing_values():
    labels = np.array([3, 4, 9, 20])
    values = np.array([-1, 9, 3, 5, 20, 21, 4, 0])
    expected = np.array([-1, 2, 0, -1, 3, -1, 1, -1])
    np.testing.assert_array_equal(label_positions(labels, values), expected)
    spread = labels * 10**9  # too wide a range for a lookup table: binary search
    np.testing.assert_array_equal(label_positions(spread, np.where(values >= 0, values * 10**9, -1)), expected)
    assert label_positions(labels[:0], values).tolist() == [-1] * len(values)


def test_components_sharing_a_covariance_equal_separate_sequences_bit_for_bit():
    rng = np.random.default_rng(5)
    model = constant_velocity_model(accel_std=0.5, measurement_std=1.0, ndim=1)
    lengths = np.array([25, 25, 10, 3])
    T, N = lengths[0], len(lengths)
    z = rng.normal(0, 3, (T, N, 2, 1)).cumsum(axis=0)
    observed = rng.random((T, N)) > 0.3
    observed[0] = True
    shared = filter_sequences(z, observed, lengths, model, velocity_std=2.0)
    apart = filter_sequences(z.reshape(T, 2 * N, 1), np.repeat(observed, 2, axis=1), np.repeat(lengths, 2), model,
                             velocity_std=2.0)
    assert np.array_equal(shared["x_last"].reshape(2 * N, 2), apart["x_last"])
    assert np.array_equal(shared["P_last"], apart["P_last"][::2])
    assert np.array_equal(shared["P_last"], apart["P_last"][1::2])
    assert np.array_equal(shared["xf"].reshape(T, 2 * N, 2), apart["xf"], equal_nan=True)
    xs_shared = rts_smooth_sequences(shared, lengths, model.F)
    xs_apart = rts_smooth_sequences(apart, np.repeat(lengths, 2), model.F)
    assert np.array_equal(xs_shared.reshape(T, 2 * N, 2), xs_apart, equal_nan=True)


def test_end_sizes_average_the_boxes_near_each_end():
    frame = np.arange(20)
    group = np.where(frame < 12, 7, 9)
    group[5] = -1
    wh = np.stack([frame + 10.0, 2.0 * frame], axis=1)
    labels, first, last, _ = group_spans(frame, group)
    end = end_sizes(frame, wh, group, labels, first, last)
    start = end_sizes(frame, wh, group, labels, first, last, reverse=True)
    np.testing.assert_allclose(end[0], wh[12 - SIZE_WINDOW:12].mean(axis=0))  # group 7: frames 7-11
    np.testing.assert_allclose(start[1], wh[12:12 + SIZE_WINDOW].mean(axis=0))  # group 9: frames 12-16
    np.testing.assert_allclose(end[1], wh[20 - SIZE_WINDOW:].mean(axis=0))


def test_interpolation_leaves_the_flagged_gaps_empty():
    frame = np.array([0, 3, 30, 0, 2])
    group = np.array([1, 1, 1, 2, 2])
    values = frame[:, None].astype(float)
    g, f, _, _ = interpolate_gaps(frame, values, group)
    assert len(f) == 2 + 26 + 1
    g, f, v, _ = interpolate_gaps(frame, values, group, skip_after=np.array([False, False, True, False, False]))
    assert g.tolist() == [1, 1, 2] and f.tolist() == [1, 2, 1]
    np.testing.assert_allclose(v[:, 0], [1.0, 2.0, 1.0])


def test_only_the_links_of_the_long_gap_rounds_are_flagged():
    """One cell on a line, seen in frames 0-9, 15-24 and 45-60: a short gap (5 missed) and a long one (20)."""
    frame = np.concatenate([np.arange(10), np.arange(15, 25), np.arange(45, 61)])
    xy = np.stack([30.0 + 1.5 * frame, 40.0 + 0.5 * frame], axis=1)
    group = np.repeat([0, 1, 2], [10, 10, 16])
    confirmed = np.ones(len(frame), dtype=bool)
    cfg = get_config("sperm", long_gap=25)
    short = close_gaps(frame, xy, group, confirmed, cfg)
    assert np.unique(short).tolist() == [0, 2]
    linked, long_start = close_long_gaps(frame, xy, short, confirmed, cfg)
    assert np.unique(linked).tolist() == [0]
    assert np.flatnonzero(long_start).tolist() == [20]  # frame 45, after the long gap only
    off, none = close_long_gaps(frame, xy, short, confirmed, get_config("sperm"))
    assert np.array_equal(off, short) and not none.any()


def test_continuity_d2_scales_the_process_noise_per_pair():
    cfg = get_config("sperm")
    model = axis_model(cfg)
    Fk, Qk = transition_powers(model.F, model.Q, 30)
    xa = np.zeros((2, 2, 2))  # still, at the origin
    xb = np.zeros((2, 2, 2))
    xb[:, 0, 0] = 12.0  # 12 px away after 25 frames
    P = np.broadcast_to(np.diag([1.0, 0.01]), (2, 2, 2, 2)).copy()  # well-observed still states
    dt = np.array([25, 25])
    plain = continuity_d2(xa, P, xb, P, dt, Fk, Qk)
    assert np.allclose(continuity_d2(xa, P, xb, P, dt, Fk, Qk, np.ones(2)), plain)
    tight = continuity_d2(xa, P, xb, P, dt, Fk, Qk, np.array([1.0, 0.01]))
    assert tight[0] == plain[0] and tight[1] > 10 * plain[1]
