"""Gated sparse assignment: same optimum as a dense solve, never a crash on odd input."""

import itertools

import numpy as np
import pytest

from spermtrack.tracker import associate as A
from spermtrack.tracker import compiled


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def solver(request, monkeypatch):
    """Every test runs with the compiled solver (where numba is installed) and with lap / scipy."""
    if request.param == "numpy":
        monkeypatch.setattr(compiled, "available", lambda: False)
    elif not compiled.available():
        pytest.skip("numba is not installed")
    return request.param


def _objective(M, rows, cols, limit):
    n, m = M.shape
    return M[rows, cols].sum() + limit / 2 * ((n - len(rows)) + (m - len(rows)))


def _brute_force(M, allowed, limit):
    """Best objective over all partial matchings (tiny problems only)."""
    n, m = M.shape
    best = limit / 2 * (n + m)
    cols = list(range(m))
    for k in range(1, min(n, m) + 1):
        for rs in itertools.combinations(range(n), k):
            for cs in itertools.permutations(cols, k):
                if all(allowed[r, c] and M[r, c] < limit for r, c in zip(rs, cs)):
                    best = min(best, sum(M[r, c] for r, c in zip(rs, cs)) + limit / 2 * (n + m - 2 * k))
    return best


def test_solve_pairs_is_optimal_on_small_random_problems():
    rng = np.random.default_rng(0)
    for _ in range(150):
        n, m = rng.integers(1, 5, 2)
        M = rng.uniform(0, 10, (n, m))
        allowed = rng.random((n, m)) < 0.6
        limit = float(rng.uniform(1, 12))
        i, j = np.nonzero(allowed)
        rows, cols = A.solve_pairs(i, j, M[i, j], limit)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert allowed[rows, cols].all() and (M[rows, cols] < limit).all()
        assert _objective(M, rows, cols, limit) == pytest.approx(_brute_force(M, allowed, limit), abs=1e-9)


def test_components_and_sparse_solver_agree_with_one_dense_problem(monkeypatch):
    rng = np.random.default_rng(1)
    n = m = 300
    pts_a = rng.uniform(0, 400, (n, 2))
    pts_b = pts_a + rng.normal(0, 3, (m, 2))
    i, j, d = A.candidate_pairs(pts_a, pts_b, 15.0)
    cost = d * d
    dense = np.full((n, m), 1e6)
    dense[i, j] = cost
    r0, c0 = A.assign(dense, 225.0)
    for dense_lap, sparse_cells in ((5, 10 ** 9), (5, 4), (10 ** 6, 10 ** 9)):
        monkeypatch.setattr(A, "DENSE_LAP", dense_lap)
        monkeypatch.setattr(A, "SPARSE_LAP_CELLS", sparse_cells)
        r, c = A.solve_pairs(i, j, cost, 225.0)
        assert _objective(dense, r, c, 225.0) == pytest.approx(_objective(dense, r0, c0, 225.0), rel=1e-12)


def _same_pairs_both_ways(monkeypatch, a, b, radius) -> None:
    """The dense search and the band sweep return equal pairs and distances."""
    monkeypatch.setattr(A, "DENSE_PAIRS", 10 ** 9)
    dense = A.candidate_pairs(a, b, radius)
    monkeypatch.setattr(A, "DENSE_PAIRS", 0)
    swept = A.candidate_pairs(a, b, radius)
    for x, y in zip(dense, swept):
        np.testing.assert_array_equal(x, y)


def test_band_sweep_and_dense_candidate_search_find_the_same_pairs(monkeypatch):
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 300, (120, 2))
    b = rng.uniform(0, 300, (150, 2))
    radius = rng.uniform(5, 25, 120)
    dense = A.candidate_pairs(a, b, radius)
    monkeypatch.setattr(A, "DENSE_PAIRS", 0)
    tree = A.candidate_pairs(a, b, radius)
    for x, y in zip(dense, tree):
        np.testing.assert_array_equal(x, y)


def test_empty_inputs_and_no_pairs():
    e = np.empty((0, 2))
    i, j, d = A.candidate_pairs(e, np.ones((3, 2)), 5.0)
    assert len(i) == len(j) == len(d) == 0
    rows, cols = A.solve_pairs(np.empty(0, int), np.empty(0, int), np.empty(0), 1.0)
    assert len(rows) == len(cols) == 0
    rows, cols = A.assign(np.empty((0, 4)), 1.0)
    assert len(rows) == 0


def test_assign_refuses_non_finite_costs_instead_of_calling_lap():
    M = np.array([[1.0, np.nan], [0.5, 2.0]])
    with pytest.raises(ValueError, match="finite"):
        A.assign(M, 3.0)


def test_scipy_fallback_matches_lap():
    rng = np.random.default_rng(3)
    for _ in range(50):
        M = rng.uniform(0, 10, rng.integers(1, 8, 2))
        limit = float(rng.uniform(1, 10))
        r1, c1 = A.assign(M, limit)
        r2, c2 = A._assign_scipy(M, limit)
        assert _objective(M, r1, c1, limit) == pytest.approx(_objective(M, r2, c2, limit), abs=1e-9)


def test_iou_cost_of_identical_shifted_and_empty_boxes():
    boxes = np.array([[10.0, 10.0, 10.0, 10.0], [15.0, 10.0, 10.0, 10.0], [0.0, 0.0, 0.0, 0.0]])
    i = np.array([0, 0, 2])
    j = np.array([0, 1, 2])
    cost, ok = A.iou_cost(boxes, boxes, i, j, 0.3)
    np.testing.assert_allclose(cost, [0.0, 1 - 50 / 150, 1.0])
    np.testing.assert_array_equal(ok, [True, True, False])


def test_size_cost_is_the_squared_size_difference():
    cost = A.size_cost(np.array([[22.0, 25.0], [13.0, 15.0]]), np.array([[13.0, 15.0], [13.0, 15.0]]))
    np.testing.assert_allclose(cost, [81.0 + 100.0, 0.0])


def test_innovation_mean_and_its_scale_on_the_cost():
    from spermtrack.tracker.config import TrackerConfig

    q = A.weighted_innovation(np.array([4.0, 4.0]), np.array([[0.0, 0.0], [3.0, 1.0]]), 0.1)
    np.testing.assert_allclose(q, [3.6, 0.9 * 4.0 + 0.1 * 5.0])
    cfg = TrackerConfig(measurement_std=2.0, innovation_floor=1.0, innovation_ceiling=3.0)
    np.testing.assert_allclose(A.innovation_scale(np.array([0.0, 1.0, 4.0, 9.0, 100.0]), cfg),
                               [4.0, 4.0, 1.0, 4.0 / 9.0, 4.0 / 9.0])  # clipped to the floor and the ceiling


def test_mahalanobis_cost_scales_with_the_covariance():
    track = np.array([[0.0, 0.0]])
    det = np.array([[3.0, 4.0]])
    S_inv = np.linalg.inv(np.array([[[4.0, 0.0], [0.0, 4.0]]]))
    cost, ok = A.mahalanobis_cost(track, det, S_inv, np.array([0]), np.array([0]), 9.0)
    assert cost[0] == pytest.approx(2.5)  # 5 px in units of a 2 px standard deviation
    assert ok[0]  # 2.5^2 = 6.25 <= 9
    _, ok = A.mahalanobis_cost(track, det, S_inv, np.array([0]), np.array([0]), 6.0)
    assert not ok[0]


def test_band_sweep_finds_every_pair_on_the_radius_and_across_bands(monkeypatch):
    """Pairs exactly at the radius, on band edges, with zero or mixed radii: the same as the dense search."""
    rng = np.random.default_rng(3)
    for k in range(200):
        n, m = rng.integers(1, 60, 2)
        a = np.round(rng.uniform(-40, 200, (n, 2)), 1)
        b = np.round(rng.uniform(-40, 200, (m, 2)), 1)
        if k % 2:
            q = min(n, m)
            b[:q] = a[:q] + rng.choice([-10.0, 0.0, 6.0, 8.0, 10.0], (q, 2))
        radius = rng.choice([0.0, 5.0, 10.0, 12.5], n)
        _same_pairs_both_ways(monkeypatch, a, b, radius)
    for scale, r in ((1e6, 3.0), (1.0, 1e-12), (1e-3, 0.0)):  # huge coordinates, tiny radii
        a = rng.uniform(0, 500, (70, 2)) * scale
        b = np.concatenate([a[:30] + r / 2, rng.uniform(0, 500, (40, 2)) * scale])
        _same_pairs_both_ways(monkeypatch, a, b, r)
