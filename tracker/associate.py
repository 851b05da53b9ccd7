"""Gated costs and sparse linear assignment between tracks and detections.

Association works on *candidate pairs* rather than dense matrices: pairs within a
search radius are found (all pairs for small problems, a sweep over sorted bands of the
plane for large ones), their costs computed and gated, and the assignment is solved per
independent group:

1. a track and a detection that are each other's only candidate are matched directly;
2. what is left is solved as one rectangular assignment problem with
   ``lap.lapjv(extend_cost=True, cost_limit=L)`` (Jonker & Volgenant 1987), or per
   connected component of the candidate graph when it is large. Leaving a track or a
   detection unmatched costs ``L / 2``, so a pair is only ever chosen if its cost is below
   ``L``. :func:`scipy.optimize.linear_sum_assignment` on the same extended matrix is the
   fallback when ``lap`` is missing.

Where numba is installed, :func:`solve_pairs` hands the whole problem to the compiled solver of
:mod:`~spermtrack.tracker.compiled` (the same optimum, per connected component), which the compiled
tracking engine uses too, so that both engines break exact ties between equal-cost assignments alike.

Costs (smaller is better; each returns a cost per pair and the pairs it allows):

- :func:`centre_cost`: squared Euclidean distance of centres, px^2.
- :func:`mahalanobis_cost`: ``sqrt(nu' S^-1 nu)`` for innovation ``nu`` and innovation
  covariance ``S`` (unitless).
- :func:`iou_cost`: ``1 - IoU`` of axis-aligned boxes.
"""

from __future__ import annotations

import numpy as np

from spermtrack.tracker import compiled

try:  # lap is a declared dependency; scipy is the fallback.
    import lap as _lap
except ImportError:  # pragma: no cover - exercised only without lap
    _lap = None

DENSE_PAIRS = 4096
"""Up to this many track x detection pairs, candidates come from a dense distance matrix (else a band sweep)."""
MAX_BANDS = 2 ** 20
"""Most bands the sparse candidate search cuts the plane into (keeps its sort keys exact enough)."""
DENSE_LAP = 96
"""Up to this many rows and columns, the non-trivial rest is solved as one problem."""
SPARSE_LAP_CELLS = 200 * 200
"""Components with more (rows x columns) than this are solved on a sparse graph."""

_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)


def candidate_pairs(a: np.ndarray, b: np.ndarray, radius: np.ndarray | float) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
    """All pairs ``(i, j)`` with ``|a_i - b_j| <= radius_i``.

    Parameters
    ----------
    a : ndarray, shape (n, 2)
        Points (e.g. predicted track centres), px.
    b : ndarray, shape (m, 2)
        Points (e.g. detected centres), px.
    radius : float or ndarray, shape (n,)
        Search radius per point of ``a``, px.

    Returns
    -------
    i, j : ndarray of int64
        Pair indices, sorted by ``i`` then ``j``.
    dist : ndarray of float64
        Euclidean distances of the pairs.
    """
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return _EMPTY_I, _EMPTY_I, _EMPTY_F
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (n,))
    if n * m <= DENSE_PAIRS:
        dx = a[:, None, 0] - b[None, :, 0]
        dy = a[:, None, 1] - b[None, :, 1]
        dist = np.sqrt(dx * dx + dy * dy)
        i, j = np.nonzero(dist <= radius[:, None])
        return i.astype(np.int64), j.astype(np.int64), dist[i, j]
    i, j = _band_sweep(a, b, float(radius.max()))
    dx = a[i, 0] - b[j, 0]  # the same arithmetic as the dense branch, so the same distances
    dy = a[i, 1] - b[j, 1]
    dist = np.sqrt(dx * dx + dy * dy)
    keep = dist <= radius[i]
    i, j, dist = i[keep], j[keep], dist[keep]
    order = np.lexsort((j, i))
    return i[order], j[order], dist[order]


def _band_sweep(a: np.ndarray, b: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` that may lie within ``r`` of each other: a superset of those that do.

    The plane is cut into horizontal bands of height ``r`` (or more, for at most
    :data:`MAX_BANDS` + 1 bands); points are sorted by (band, x) on one key
    ``band * span + x`` with ``span`` more than twice the x extent, so that the keys of
    different bands stay far apart. A point of ``a`` can only be within ``r`` of points of
    ``b`` in its own band and the two next to it, and among those only of points within
    ``r`` in x: three windows on the sorted key (widened slightly against rounding, never
    into another band), found with :func:`numpy.searchsorted`. Each pair is found at most once.

    Returns
    -------
    i, j : ndarray of int64
        Candidate pairs, unordered.
    """
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    x0 = min(ax.min(), bx.min())
    y0 = min(ay.min(), by.min())
    cell = max(r, float(max(ay.max(), by.max()) - y0) / MAX_BANDS) or 1.0  # at least r, at most MAX_BANDS + 1 bands
    span = 2.0 * (float(max(ax.max(), bx.max()) - x0) + 2.0 * cell + 1.0)  # windows of different bands stay apart
    key_a = np.floor((ay - y0) / cell) * span + (ax - x0)
    key_b = np.floor((by - y0) / cell) * span + (bx - x0)
    oa = np.argsort(key_a, kind="stable")
    ob = np.argsort(key_b, kind="stable")
    ka, kb = key_a[oa], key_b[ob]
    pad = 1e-9 * (abs(float(ka[-1])) + abs(float(kb[-1])) + span)
    lo = np.concatenate([np.searchsorted(kb, ka + (d * span - r - pad), side="left") for d in (-1.0, 0.0, 1.0)])
    hi = np.concatenate([np.searchsorted(kb, ka + (d * span + r + pad), side="right") for d in (-1.0, 0.0, 1.0)])
    count = hi - lo
    i = np.repeat(np.tile(oa, 3), count)
    j = ob[np.arange(int(count.sum())) + np.repeat(lo - (np.cumsum(count) - count), count)]
    return i.astype(np.int64), j.astype(np.int64)


def centre_cost(dist: np.ndarray, i: np.ndarray, gate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre-distance cost: ``cost = dist^2`` (px^2), allowed where ``dist <= gate[i]``.

    The squared distance makes the assignment the maximum-likelihood one under isotropic
    Gaussian prediction errors (the sum of squared residuals is minimised), which keeps
    identities of touching look-alike cells better than the plain distance.

    Returns
    -------
    cost, allowed : ndarray
    """
    return dist * dist, dist <= gate[i]


def weighted_innovation(q: np.ndarray, innovation: np.ndarray, weight: float) -> np.ndarray:
    """Update each track's mean squared innovation per axis: ``(1 - weight) q + weight * mean(innovation^2)``.

    Parameters
    ----------
    q : ndarray, shape (n,)
        Current values, px^2.
    innovation : ndarray, shape (n, 2)
        Detected minus predicted centre, px.
    weight : float
        Weight of the new innovation, in (0, 1].

    Returns
    -------
    ndarray, shape (n,)
        The updated values, px^2.
    """
    return (1.0 - weight) * q + weight * (0.5 * (innovation[:, 0] ** 2 + innovation[:, 1] ** 2))


def innovation_scale(q: np.ndarray, cfg) -> np.ndarray:
    """Factor on each track's squared centre distance: ``measurement_std^2 / q``, ``q`` clipped to
    ``[innovation_floor^2, innovation_ceiling^2]``.

    A track whose detections have followed its prediction closely (a still cell: ``q`` about the detector's
    jitter) pays more per px than the model's ``measurement_std`` says; one that moves erratically pays less.
    The compiled engine computes the same expression inline (``compiled._associate``).

    Parameters
    ----------
    q : ndarray, shape (n,)
        Each track's mean squared innovation per axis, px^2.
    cfg : TrackerConfig
        Gives ``measurement_std``, ``innovation_floor`` and ``innovation_ceiling``.

    Returns
    -------
    ndarray, shape (n,)
    """
    return cfg.measurement_std ** 2 / np.clip(q, cfg.innovation_floor ** 2, cfg.innovation_ceiling ** 2)


def size_cost(track_wh: np.ndarray, det_wh: np.ndarray) -> np.ndarray:
    """Squared difference of box sizes, ``(w_t - w_d)^2 + (h_t - h_d)^2`` px^2, one per pair.

    Added to the centre cost with the weight ``size_weight`` (:class:`~spermtrack.tracker.config.TrackerConfig`).

    Parameters
    ----------
    track_wh, det_wh : ndarray, shape (n, 2)
        Width and height of the track (its last measured box) and of the detection of each pair, px.

    Returns
    -------
    ndarray, shape (n,)
    """
    return ((track_wh - det_wh) ** 2).sum(axis=1)


def mahalanobis_cost(track_xy: np.ndarray, det_xy: np.ndarray, S_inv: np.ndarray, i: np.ndarray, j: np.ndarray,
                     gate: float) -> tuple[np.ndarray, np.ndarray]:
    """Mahalanobis cost ``sqrt(nu' S_i^-1 nu)`` with ``nu = det_j - track_i``.

    Parameters
    ----------
    track_xy : ndarray, shape (n, 2)
        Predicted centres.
    det_xy : ndarray, shape (m, 2)
        Detected centres.
    S_inv : ndarray, shape (n, 2, 2)
        Inverse innovation covariance of each track's centre.
    i, j : ndarray
        Candidate pairs.
    gate : float
        Chi-square gate on the squared distance (2 dof).

    Returns
    -------
    cost, allowed : ndarray
    """
    nu = det_xy[j] - track_xy[i]
    d2 = np.einsum("pi,pij,pj->p", nu, S_inv[i], nu)
    return np.sqrt(np.maximum(d2, 0.0)), d2 <= gate


def iou_cost(track_box: np.ndarray, det_box: np.ndarray, i: np.ndarray, j: np.ndarray,
             threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """IoU cost ``1 - IoU`` of centre-size boxes ``[x, y, w, h]``, allowed where ``IoU >= threshold``.

    ``IoU = |A & B| / |A | B|``; two empty boxes have IoU 0.

    Returns
    -------
    cost, allowed : ndarray
    """
    a = track_box[i]
    b = det_box[j]
    iw = np.minimum(a[:, 0] + a[:, 2] / 2, b[:, 0] + b[:, 2] / 2) - np.maximum(a[:, 0] - a[:, 2] / 2,
                                                                             b[:, 0] - b[:, 2] / 2)
    ih = np.minimum(a[:, 1] + a[:, 3] / 2, b[:, 1] + b[:, 3] / 2) - np.maximum(a[:, 1] - a[:, 3] / 2,
                                                                             b[:, 1] - b[:, 3] / 2)
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return 1.0 - iou, iou >= threshold


def solve_pairs(i: np.ndarray, j: np.ndarray, cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching over candidate pairs, leaving a row or column unmatched at ``limit / 2``.

    Minimises ``sum(cost of chosen pairs) + limit / 2 * (unmatched rows + unmatched columns)``
    over matchings that use only the given pairs. Pairs with ``cost >= limit`` are never chosen.

    Parameters
    ----------
    i, j : ndarray of int
        Row (track) and column (detection) of each candidate pair; at most one entry per pair.
    cost : ndarray of float
        Finite cost of each pair.
    limit : float
        Cost limit ``L`` (> 0).

    Returns
    -------
    rows, cols : ndarray of int64
        Matched pairs, sorted by row.

    Raises
    ------
    ValueError
        A cost of -inf, or a limit that is not finite and positive (with some pair below it).
    """
    keep = cost < limit
    i, j, cost = i[keep], j[keep], cost[keep]
    if i.size == 0:
        return _EMPTY_I, _EMPTY_I
    _check_finite(cost, limit)
    n_rows = int(i.max()) + 1
    n_cols = int(j.max()) + 1
    if compiled.available():  # the compiled engine's solver, so that both engines break exact ties alike
        return compiled.solve_pairs_into(i, j, cost, limit, n_rows, n_cols)
    deg_r = np.bincount(i, minlength=n_rows)
    deg_c = np.bincount(j, minlength=n_cols)
    trivial = (deg_r[i] == 1) & (deg_c[j] == 1)
    if trivial.all():
        return i, j
    rows = [i[trivial]]
    cols = [j[trivial]]
    rest = ~trivial
    ri, cj, cc = i[rest], j[rest], cost[rest]
    ur, li = np.unique(ri, return_inverse=True)
    uc, lj = np.unique(cj, return_inverse=True)
    if len(ur) <= DENSE_LAP and len(uc) <= DENSE_LAP:
        r, c = _dense_lap(li, lj, cc, len(ur), len(uc), limit)
        rows.append(ur[r])
        cols.append(uc[c])
    else:
        n_r, n_c = len(ur), len(uc)
        from scipy.sparse import coo_matrix  # here, not at import: scipy is not needed before the first frame
        from scipy.sparse.csgraph import connected_components

        graph = coo_matrix((np.ones(len(li)), (li, lj + n_r)), shape=(n_r + n_c, n_r + n_c))
        n_comp, label = connected_components(graph, directed=False)
        pair_label = label[li]
        rows_of, row_start, row_count, row_local = _component_members(label[:n_r], n_comp)
        cols_of, col_start, col_count, col_local = _component_members(label[n_r:], n_comp)
        # stars (one row or one column) take their cheapest pair, first on ties, all at once
        star = ((row_count == 1) | (col_count == 1))[pair_label]
        s_idx = np.flatnonzero(star)
        if s_idx.size:
            by = s_idx[np.lexsort((s_idx, cc[s_idx], pair_label[s_idx]))]
            first = by[np.concatenate([[True], pair_label[by][1:] != pair_label[by][:-1]])]
            rows.append(ur[li[first]])
            cols.append(uc[lj[first]])
        others = np.flatnonzero(~star)
        order = others[np.argsort(pair_label[others], kind="stable")]
        gli, glj, gc = row_local[li[order]], col_local[lj[order]], cc[order]
        bounds = np.flatnonzero(np.diff(pair_label[order])) + 1
        starts = np.concatenate([[0], bounds]).tolist() if order.size else []
        ends = np.append(bounds, order.size).tolist()
        for s, e, comp in zip(starts, ends, pair_label[order[starts]].tolist()):
            r, c = _dense_lap(gli[s:e], glj[s:e], gc[s:e], int(row_count[comp]), int(col_count[comp]), limit)
            rows.append(ur[rows_of[row_start[comp] + r]])
            cols.append(uc[cols_of[col_start[comp] + c]])
    rows_a = np.concatenate(rows)
    cols_a = np.concatenate(cols)
    order = np.argsort(rows_a, kind="stable")
    return rows_a[order], cols_a[order]


def _component_members(label: np.ndarray, n_comp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Members of each connected component, in increasing index order.

    Parameters
    ----------
    label : ndarray of int, shape (n,)
        Component of each node (rows or columns).
    n_comp : int
        Number of components.

    Returns
    -------
    members : ndarray of int64, shape (n,)
        Nodes sorted by component, then index; component ``k`` holds
        ``members[start[k]:start[k] + count[k]]``.
    start, count : ndarray of int64, shape (n_comp,)
    local : ndarray of int64, shape (n,)
        Position of each node among its component's members (as ``np.unique`` of the
        component's node indices would number them).
    """
    members = np.argsort(label, kind="stable")
    count = np.bincount(label, minlength=n_comp)
    start = np.cumsum(count) - count
    local = np.empty(len(label), dtype=np.int64)
    local[members] = np.arange(len(label)) - start[label[members]]
    return members, start, count, local


def _dense_lap(li: np.ndarray, lj: np.ndarray, cost: np.ndarray, n_rows: int, n_cols: int,
               limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve one problem given as local pair indices; returns local (rows, cols)."""
    if n_rows == 1 or n_cols == 1:  # one row or one column: the cheapest pair (first on ties)
        k = int(np.argmin(cost))
        return li[k:k + 1], lj[k:k + 1]
    if n_rows * n_cols > SPARSE_LAP_CELLS:
        return _sparse_lap(li, lj, cost, n_rows, n_cols, limit)
    big = 2.0 * limit + 1.0
    M = np.full((n_rows, n_cols), big)
    M[li, lj] = cost
    return _lapjv(M, limit)


def _sparse_lap(li: np.ndarray, lj: np.ndarray, cost: np.ndarray, n_rows: int, n_cols: int,
                limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The same problem as :func:`assign` on a sparse graph (for large, sparse components).

    The extended problem of ``lapjv(extend_cost=True)`` is built sparsely: real pairs (cost c),
    row i -> its dummy column (L/2), dummy row of column j -> column j (L/2), and the dummy
    row of j -> the dummy column of i for every real pair (i, j) (cost 0). Every full
    matching has ``n_rows + n_cols`` edges, so adding 1 to all costs (the solver needs
    non-zero weights) leaves the optimum unchanged. Solved with
    :func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`.
    """
    n, m = n_rows, n_cols
    half = limit / 2.0
    ar_n, ar_m = np.arange(n), np.arange(m)
    r = np.concatenate([li, ar_n, n + ar_m, n + lj])
    c = np.concatenate([lj, m + ar_n, ar_m, m + li])
    w = np.concatenate([cost, np.full(n, half), np.full(m, half), np.zeros(len(li))]) + 1.0
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    graph = csr_matrix((w, (r, c)), shape=(n + m, n + m))
    rows, cols = min_weight_full_bipartite_matching(graph)
    real = (rows < n) & (cols < m)
    rows, cols = rows[real].astype(np.int64), cols[real].astype(np.int64)
    return rows, cols


def assign(M: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular assignment with a cost limit on a dense, finite cost matrix.

    Uses ``lap.lapjv(M, extend_cost=True, cost_limit=limit)``; falls back to
    :func:`scipy.optimize.linear_sum_assignment` on the equivalent extended matrix
    ``[[M, L/2], [L/2, 0]]`` if ``lap`` is unavailable.

    Parameters
    ----------
    M : ndarray, shape (n, m)
        Finite costs.
    limit : float
        Cost limit (> 0).

    Returns
    -------
    rows, cols : ndarray of int64
        Matched pairs with ``M[rows, cols] < limit``, sorted by row.
    """
    n, m = M.shape
    if n == 0 or m == 0:
        return _EMPTY_I, _EMPTY_I
    M = np.ascontiguousarray(M, dtype=np.float64)
    _check_finite(M, limit)
    return _lapjv(M, limit)


def _check_finite(cost: np.ndarray, limit: float) -> None:
    """Raise ValueError unless every cost is finite and ``limit`` is finite and positive (never hand lap a bad
    matrix)."""
    if not np.isfinite(cost).all() or not (np.isfinite(limit) and limit > 0):
        raise ValueError("assignment costs and limit must be finite (limit > 0)")


def _lapjv(M: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`assign` on a validated, C-contiguous float64 matrix with at least one row and column."""
    if _lap is not None:
        _, x, _ = _lap.lapjv(M, extend_cost=True, cost_limit=float(limit))
        rows = np.flatnonzero(x >= 0)
        cols = x[rows].astype(np.int64)
    else:  # pragma: no cover - exercised only without lap
        rows, cols = _assign_scipy(M, limit)
    ok = M[rows, cols] < limit
    return rows[ok].astype(np.int64), cols[ok]


def _assign_scipy(M: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``lap.lapjv(extend_cost=True, cost_limit=limit)`` problem solved with scipy."""
    n, m = M.shape
    ext = np.full((n + m, n + m), limit / 2.0)
    ext[n:, m:] = 0.0
    ext[:n, :m] = M
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(ext)
    real = (r < n) & (c < m)
    return r[real].astype(np.int64), c[real].astype(np.int64)
