"""The vectorised Kalman filter equals filterpy's, and RTS smoothing does what it should."""

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter, rts_smoother

from spermtrack.tracker.kalman import (constant_velocity_model, filter_sequences, initial_state, kf_predict,
                                       kf_update, predict, rts_smooth_sequences, transition_powers, update)


def _filterpy(model, x0, P0):
    kf = KalmanFilter(dim_x=model.dim_x, dim_z=model.dim_z)
    kf.F, kf.Q, kf.H, kf.R = model.F.copy(), model.Q.copy(), model.H.copy(), model.R.copy()
    kf.x = x0.reshape(-1, 1).copy()
    kf.P = P0.copy()
    return kf


def test_process_noise_is_filterpys_discrete_white_noise():
    model = constant_velocity_model(accel_std=1.5, measurement_std=0.7)
    expected = Q_discrete_white_noise(2, dt=1.0, var=1.5 ** 2, block_size=2, order_by_dim=False)
    np.testing.assert_array_equal(model.Q, expected)
    # per axis: G G' sigma^2 with G = [1/2, 1]
    np.testing.assert_allclose(model.Q[[0, 2]][:, [0, 2]], 1.5 ** 2 * np.array([[0.25, 0.5], [0.5, 1.0]]))
    np.testing.assert_allclose(model.R, np.eye(2) * 0.49, rtol=1e-12)


def test_batched_predict_update_equal_filterpy_over_a_random_sequence():
    rng = np.random.default_rng(0)
    for size_std in (None, 0.5):
        model = constant_velocity_model(accel_std=0.8, measurement_std=1.3, size_std=size_std)
        n, steps = 7, 60
        z0 = rng.uniform(0, 500, (n, model.dim_z))
        x, P = initial_state(z0, model, velocity_std=4.0)
        filters = [_filterpy(model, x[k], P[k]) for k in range(n)]
        for _ in range(steps):
            x, P = kf_predict(x, P, model.F, model.Q)
            for kf in filters:
                kf.predict()
            z = rng.normal(x @ model.H.T, 2.0)
            x, P = kf_update(x, P, z, model.H, model.R)
            for k, kf in enumerate(filters):
                kf.update(z[k])
                np.testing.assert_allclose(x[k], kf.x[:, 0], rtol=0, atol=1e-9)
                np.testing.assert_allclose(P[k], kf.P, rtol=0, atol=1e-9)


def test_functions_do_not_modify_inputs():
    model = constant_velocity_model(accel_std=1.0, measurement_std=1.0)
    x, P = initial_state(np.array([[1.0, 2.0]]), model, velocity_std=3.0)
    x0, P0 = x.copy(), P.copy()
    kf_predict(x, P, model.F, model.Q)
    kf_update(x, P, np.array([[1.5, 2.5]]), model.H, model.R)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(P, P0)


def test_filter_and_rts_equal_filterpy_on_a_full_sequence():
    rng = np.random.default_rng(1)
    model = constant_velocity_model(accel_std=0.5, measurement_std=1.0, ndim=1)
    T = 80
    z = np.cumsum(rng.normal(0, 1, T)) + rng.normal(0, 1, T)
    res = filter_sequences(z.reshape(T, 1, 1), np.ones((T, 1), bool), np.array([T]), model, velocity_std=2.0)
    xs = rts_smooth_sequences(res, np.array([T]), model.F)[:, 0]
    x0, P0 = initial_state(z[:1].reshape(1, 1), model, velocity_std=2.0)
    kf = _filterpy(model, x0[0], P0[0])
    xf, Pf = [], []
    for t in range(T):  # the initial state already holds the first measurement
        if t:
            kf.predict()
            kf.update(z[t])
        xf.append(kf.x.copy())
        Pf.append(kf.P.copy())
    mu, _, _, _ = rts_smoother(np.array(xf), np.array(Pf), [model.F] * T, [model.Q] * T)
    np.testing.assert_allclose(res["xf"][:, 0], np.array(xf)[:, :, 0], atol=1e-9)
    np.testing.assert_allclose(xs, mu[:, :, 0], atol=1e-9)


def test_rts_on_a_noisy_straight_line_reduces_the_error():
    rng = np.random.default_rng(2)
    model = constant_velocity_model(accel_std=0.05, measurement_std=1.0, ndim=1)
    T = 200
    truth = 10.0 + 1.7 * np.arange(T)
    z = truth + rng.normal(0, 1.0, T)
    res = filter_sequences(z.reshape(T, 1, 1), np.ones((T, 1), bool), np.array([T]), model, velocity_std=5.0)
    xs = rts_smooth_sequences(res, np.array([T]), model.F)[:, 0, 0]
    raw = np.sqrt(np.mean((z - truth) ** 2))
    smooth = np.sqrt(np.mean((xs - truth) ** 2))
    assert smooth < 0.4 * raw


def test_sequences_of_different_length_with_gaps_match_one_by_one():
    rng = np.random.default_rng(3)
    model = constant_velocity_model(accel_std=0.5, measurement_std=1.0, ndim=1)
    lengths = np.array([30, 30, 12, 5, 1])
    T = lengths[0]
    z = rng.normal(0, 3, (T, len(lengths), 1)).cumsum(axis=0)
    observed = rng.random((T, len(lengths))) > 0.3
    observed[0] = True
    together = filter_sequences(z, observed, lengths, model, velocity_std=2.0)
    smooth = rts_smooth_sequences(together, lengths, model.F)
    for k, L in enumerate(lengths):
        alone = filter_sequences(z[:L, k:k + 1], observed[:L, k:k + 1], np.array([L]), model, velocity_std=2.0)
        np.testing.assert_allclose(together["x_last"][k], alone["x_last"][0], atol=1e-12)
        np.testing.assert_allclose(smooth[:L, k], rts_smooth_sequences(alone, np.array([L]), model.F)[:, 0],
                                   atol=1e-12)
        assert np.isnan(smooth[L:, k]).all()


def test_transition_powers_accumulate_blind_predictions():
    model = constant_velocity_model(accel_std=0.7, measurement_std=1.0, ndim=1)
    Fk, Qk = transition_powers(model.F, model.Q, 4)
    x = np.zeros((1, 2))
    P = np.zeros((1, 2, 2))
    for k in range(1, 5):
        x, P = kf_predict(x, P, model.F, model.Q)
        np.testing.assert_allclose(Qk[k], P[0], atol=1e-12)
        np.testing.assert_allclose(Fk[k], np.linalg.matrix_power(model.F, k))


def test_model_predict_update_are_bitwise_kf_predict_kf_update():
    rng = np.random.default_rng(5)
    for kw in ({}, {"size_std": 0.7}, {"ndim": 1}):
        model = constant_velocity_model(accel_std=0.6, measurement_std=1.7, **kw)
        assert model.shift is not None and model.measured is not None
        z = rng.uniform(0, 500, (40, model.dim_z))
        x, P = initial_state(z, model, velocity_std=4.0)
        x0, P0 = x.copy(), P.copy()
        for _ in range(8):
            xa, Pa = kf_predict(x, P, model.F, model.Q)
            xb, Pb = predict(x, P, model)
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(Pa, Pb)
            z = rng.normal(xa @ model.H.T, 2.0)
            x, P = kf_update(xa, Pa, z, model.H, model.R)
            xb, Pb = update(xa, Pa, z, model)
            np.testing.assert_array_equal(x, xb)
            np.testing.assert_array_equal(P, Pb)
        xc, Pc = x0.copy(), P0.copy()
        predict(x0, P0, model)
        update(x0, P0, z, model)
        np.testing.assert_array_equal(x0, xc)  # inputs are not modified
        np.testing.assert_array_equal(P0, Pc)


def test_model_without_structure_falls_back_to_the_matrix_products():
    model = constant_velocity_model(accel_std=0.6, measurement_std=1.7)
    F = model.F.copy()
    F[0, 1] = 0.5
    odd = type(model)(F=F, Q=model.Q, H=model.H * 2.0, R=model.R)
    assert odd.shift is None and odd.measured is None
    x, P = initial_state(np.array([[1.0, 2.0], [3.0, 4.0]]), model, velocity_std=3.0)
    for a, b in zip(predict(x, P, odd), kf_predict(x, P, odd.F, odd.Q)):
        np.testing.assert_array_equal(a, b)
    z = np.array([[1.5, 2.5], [3.0, 3.0]])
    for a, b in zip(update(x, P, z, odd), kf_update(x, P, z, odd.H, odd.R)):
        np.testing.assert_array_equal(a, b)
