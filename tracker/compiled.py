"""The online engine compiled with numba: the same tracker as :class:`~spermtrack.tracker.online.Tracker`,
run over a whole sorted detections table in one call.

The numpy engine (:class:`~spermtrack.tracker.online.Tracker`) pays Python and numpy call overhead on every
frame (about a hundred array calls), which dominates at 10-50 detections a frame. :func:`run_compiled` runs
the same steps per frame in one compiled loop over all frames:

- predict every live track (constant velocity, position += velocity; the same additions as
  :func:`~spermtrack.tracker.kalman.predict`);
- candidate pairs within each track's gate (detections sorted by x once per frame, a window per track), their
  cost the squared centre distance times the track's innovation scale, plus ``size_weight`` times the squared
  difference of box sizes;
- the two association stages (high scores with every track, then low scores with the confirmed tracks left),
  each solved by :func:`solve_pairs_into`: pairs whose track and detection have no other candidate are matched
  directly; a connected component of the rest with one row or one column takes its cheapest pair (the first on
  ties); every other component is one rectangular assignment with the unmatched cost ``L / 2`` (the Hungarian
  algorithm, shortest augmenting paths, on the component's extended square matrix, O(n^3) in its size);
- the Joseph-form Kalman update, OC-SORT's re-update after missed frames, misses, deletions, births and
  confirmations, in the numpy engine's order.

It covers the configs of the centre-distance cost with the state ``[x, y, vx, vy]``
(:func:`supports`; the ``sperm`` and ``sperm_online`` presets); other configs run on the numpy engine.
Where numba is installed, :func:`~spermtrack.tracker.associate.solve_pairs` uses the same assignment kernel,
so that the two engines (and streaming and batch tracking) give the same tracks: identical ids, and coordinates
equal to rounding. Where two assignments cost exactly the same, an installation without numba (``lap.lapjv``)
may pick another one than an installation with it.

The per-axis Kalman filter and RTS smoother of the offline steps (:func:`filter_axes`, :func:`rts_axes`)
and the pair search of the encounters (:func:`close_pairs`) are compiled here too.

numba compiles the kernels on their first use (about 20 s, once per installation; :func:`warm_up` says so on
stderr) and caches them beside this file, or in numba's user cache when this folder is read-only, or not at
all when neither can be written. Without numba, :func:`available` is False and everything runs on numpy.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

# config imports nothing else of the tracker, so that every module of it may use these kernels
from spermtrack.tracker.config import CONFIDENT_SLACK, TrackerConfig

try:
    import numba as _numba
except ImportError:  # pragma: no cover - exercised only without numba
    _numba = None


def available() -> bool:
    """True when numba is installed, so that :func:`run_compiled` can run."""
    return _numba is not None


MAX_GATE_PX = 1e100
"""Largest gate the compiled engine takes (its squared cost limit must stay finite)."""


def supports(cfg: TrackerConfig) -> bool:
    """Whether :func:`run_compiled` implements ``cfg``: centre cost, state ``[x, y, vx, vy]``, a finite gate."""
    widest = cfg.max_distance + cfg.gate_growth * cfg.longest_max_age
    return cfg.cost == "centre" and not cfg.size_in_state and widest < MAX_GATE_PX


def _njit(fn):
    if _numba is None:
        return fn
    try:
        return _numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no cache location can be written: compile in every process instead
        return _numba.njit(nogil=True)(fn)


COMPILE_NOTICE_S = 2.0
"""When loading the kernels takes longer than this (they are being compiled), :func:`warm_up` says so on stderr."""

_WARM = False
_WARM_LOCK = threading.Lock()


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel on tiny inputs, once per process.

    A cold compile takes about 20 s once per installation; a cached load well under a second. A timer prints
    one line on stderr if the warm-up has not finished after :data:`COMPILE_NOTICE_S`, so that a first run
    does not look stuck. Real inputs then run on the compiled kernels (the tiny inputs have their types).
    """
    global _WARM
    if _WARM or _numba is None:
        return
    with _WARM_LOCK:
        if _WARM:
            return
        timer = threading.Timer(COMPILE_NOTICE_S, lambda: print(
            "spermtrack: compiling the tracker's numba kernels (once per installation, about 20 s)",
            file=sys.stderr, flush=True))
        timer.daemon = True
        timer.start()
        try:
            _run(*_run_args(np.zeros(2, dtype=np.int64), np.ones((2, 4)), np.ones(2), np.zeros(2, dtype=np.int64),
                            TrackerConfig(), np.eye(4), 1.0))
            lengths = np.array([2], dtype=np.int64)
            filtered = _filter_axes(np.zeros((2, 1, 2, 1)), np.ones((2, 1), dtype=np.bool_), lengths, np.eye(2), 1.0,
                                    1.0, True)
            _rts_axes(*filtered[2:], lengths, np.eye(2))
            _close_pairs(np.zeros(2, dtype=np.int64), np.zeros(2), np.zeros(2), np.arange(2, dtype=np.int64), 1.0)
            row_match = np.full(1, -1, dtype=np.int64)
            _solve_pairs(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.ones(1), 1, 1, 1, 2.0,
                         row_match)
        finally:
            timer.cancel()
        _WARM = True


# ---------------------------------------------------------------------------------------------------------------
# Kalman steps on one track (state [x, y, vx, vy], measurement [x, y], R = r I)
# ---------------------------------------------------------------------------------------------------------------
@_njit
def _predict(x, P, Q):
    x[0] += x[2]
    x[1] += x[3]
    for c in range(4):
        P[0, c] += P[2, c]
        P[1, c] += P[3, c]
    for r in range(4):
        P[r, 0] += P[r, 2]
        P[r, 1] += P[r, 3]
    for r in range(4):
        for c in range(4):
            P[r, c] += Q[r, c]


@_njit
def _update(x, P, zx, zy, r):
    a = P[0, 0] + r
    b = P[0, 1]
    c = P[1, 0]
    d = P[1, 1] + r
    det = a * d - b * c
    i00, i01, i10, i11 = d / det, -b / det, -c / det, a / det
    K = np.empty((4, 2))
    for i in range(4):
        K[i, 0] = P[i, 0] * i00 + P[i, 1] * i10
        K[i, 1] = P[i, 0] * i01 + P[i, 1] * i11
    y0 = zx - x[0]
    y1 = zy - x[1]
    for i in range(4):
        x[i] = x[i] + (K[i, 0] * y0 + K[i, 1] * y1)
    A = np.eye(4)  # I - K H
    for i in range(4):
        A[i, 0] -= K[i, 0]
        A[i, 1] -= K[i, 1]
    AP = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            s = 0.0
            for k in range(4):
                s += A[i, k] * P[k, j]
            AP[i, j] = s
    for i in range(4):
        for j in range(4):
            s = 0.0
            for k in range(4):
                s += AP[i, k] * A[j, k]
            P[i, j] = s + ((K[i, 0] * r) * K[j, 0] + (K[i, 1] * r) * K[j, 1])


# ---------------------------------------------------------------------------------------------------------------
# assignment
# ---------------------------------------------------------------------------------------------------------------
@_njit
def _grown(a, n, cap):
    """A copy of ``a`` (1-D or 2-D) with room for ``cap`` rows, its first ``n`` rows kept."""
    out = np.empty((cap,) + a.shape[1:], dtype=a.dtype)
    out[:n] = a[:n]
    return out


@_njit
def _hungarian(M):
    """Minimum-cost perfect assignment of a square matrix; returns the column of each row."""
    n = M.shape[0]
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    p = np.zeros(n + 1, dtype=np.int64)  # p[j]: row (1-based) assigned to column j; p[0] the row being placed
    way = np.zeros(n + 1, dtype=np.int64)
    minv = np.empty(n + 1)
    used = np.empty(n + 1, dtype=np.bool_)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv[:] = np.inf
        used[:] = False
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = np.inf
            j1 = 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = M[i0 - 1, j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    col_of = np.empty(n, dtype=np.int64)
    for j in range(1, n + 1):
        col_of[p[j] - 1] = j - 1
    return col_of


@_njit
def _find(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@_njit
def _solve_pairs(pi, pj, pc, n_pairs, n_rows, n_cols, limit, row_match):
    """Match rows to columns over the candidate pairs ``pi, pj, pc[:n_pairs]`` (see solve_pairs); sets row_match."""
    deg_r = np.zeros(n_rows, dtype=np.int64)
    deg_c = np.zeros(n_cols, dtype=np.int64)
    for k in range(n_pairs):
        deg_r[pi[k]] += 1
        deg_c[pj[k]] += 1
    parent = np.arange(n_rows + n_cols)
    rest = 0
    for k in range(n_pairs):
        i, j = pi[k], pj[k]
        if deg_r[i] == 1 and deg_c[j] == 1:
            row_match[i] = j
        else:
            rest += 1
            a = _find(parent, i)
            b = _find(parent, n_rows + j)
            if a != b:
                parent[a] = b
    if rest == 0:
        return
    # group the remaining pairs by component
    comp = np.empty(rest, dtype=np.int64)
    idx = np.empty(rest, dtype=np.int64)
    m = 0
    for k in range(n_pairs):
        if not (deg_r[pi[k]] == 1 and deg_c[pj[k]] == 1):
            comp[m] = _find(parent, pi[k])
            idx[m] = k
            m += 1
    order = np.argsort(comp, kind="mergesort")
    local_r = np.full(n_rows, -1, dtype=np.int64)
    local_c = np.full(n_cols, -1, dtype=np.int64)
    s = 0
    half = limit / 2.0
    big = 2.0 * limit + 1.0
    while s < rest:
        e = s
        while e < rest and comp[order[e]] == comp[order[s]]:
            e += 1
        rows = np.empty(e - s, dtype=np.int64)
        cols = np.empty(e - s, dtype=np.int64)
        nr = 0
        nc = 0
        for q in range(s, e):
            k = idx[order[q]]
            if local_r[pi[k]] < 0:
                local_r[pi[k]] = nr
                rows[nr] = pi[k]
                nr += 1
            if local_c[pj[k]] < 0:
                local_c[pj[k]] = nc
                cols[nc] = pj[k]
                nc += 1
        if nr == 1 or nc == 1:  # one row or one column: its cheapest pair, the first (by row, column) on ties
            best = -1
            for q in range(s, e):
                k = idx[order[q]]
                if best < 0 or pc[k] < pc[best] or (pc[k] == pc[best] and (pi[k], pj[k]) < (pi[best], pj[best])):
                    best = k
            row_match[pi[best]] = pj[best]
        else:
            size = nr + nc
            M = np.full((size, size), big)
            M[:nr, nc:] = half
            M[nr:, :nc] = half
            M[nr:, nc:] = 0.0
            for q in range(s, e):
                k = idx[order[q]]
                M[local_r[pi[k]], local_c[pj[k]]] = pc[k]
            col_of = _hungarian(M)
            for a in range(nr):
                b = col_of[a]
                if b < nc and M[a, b] < limit:
                    row_match[rows[a]] = cols[b]
        for a in range(nr):
            local_r[rows[a]] = -1
        for b in range(nc):
            local_c[cols[b]] = -1
        s = e


@_njit
def _associate(tracks, n_t, dets, n_d, X, WH, Qn, miss, tcls, dx, dy, dw, dh, dcls, gate0, growth, scale,
               size_weight, innovation_weight, floor2, ceiling2, r, class_aware, det_match, track_match):
    """Gated centre-cost assignment of ``tracks[:n_t]`` to ``dets[:n_d]``, with the track's innovation scale and
    the size term where switched on; fills the match arrays (global ids)."""
    if n_t == 0 or n_d == 0:
        return
    gate = np.empty(n_t)
    factor = np.ones(n_t)
    reach = 0.0  # the largest cost of a pair inside a gate
    for a in range(n_t):
        gate[a] = (gate0 + growth * miss[tracks[a]]) * scale
        if innovation_weight > 0:
            factor[a] = r / min(max(Qn[tracks[a]], floor2), ceiling2)
        reach = max(reach, gate[a] * gate[a] * factor[a])
    limit = reach * (1.0 + size_weight) * (1.0 + 1e-9) + 1e-12
    xs = np.empty(n_d)
    for b in range(n_d):
        xs[b] = dx[dets[b]]
    by_x = np.argsort(xs, kind="mergesort")
    xs_sorted = xs[by_x]
    cap = 16 * (n_t + n_d)
    pi = np.empty(cap, dtype=np.int64)
    pj = np.empty(cap, dtype=np.int64)
    pc = np.empty(cap)
    n_pairs = 0
    for a in range(n_t):
        t = tracks[a]
        tx, ty = X[t, 0], X[t, 1]
        g = gate[a]
        lo = np.searchsorted(xs_sorted, tx - g - 1e-9 * (abs(tx) + g + 1.0), side="left")
        hi = np.searchsorted(xs_sorted, tx + g + 1e-9 * (abs(tx) + g + 1.0), side="right")
        for q in range(lo, hi):
            b = by_x[q]
            ddx = tx - dx[dets[b]]
            ddy = ty - dy[dets[b]]
            dist = np.sqrt(ddx * ddx + ddy * ddy)
            if dist > g:
                continue
            cost = dist * dist
            if innovation_weight > 0:
                cost = cost * factor[a]
            if size_weight > 0:
                ddw = WH[t, 0] - dw[dets[b]]
                ddh = WH[t, 1] - dh[dets[b]]
                cost = cost + size_weight * (ddw * ddw + ddh * ddh)
            if cost >= limit:
                continue
            if class_aware and tcls[t] != dcls[dets[b]]:
                continue
            if n_pairs == cap:
                cap *= 2
                pi, pj, pc = _grown(pi, n_pairs, cap), _grown(pj, n_pairs, cap), _grown(pc, n_pairs, cap)
            pi[n_pairs] = a
            pj[n_pairs] = b
            pc[n_pairs] = cost
            n_pairs += 1
    if n_pairs == 0:
        return
    row_match = np.full(n_t, -1, dtype=np.int64)
    _solve_pairs(pi, pj, pc, n_pairs, n_t, n_d, limit, row_match)
    for a in range(n_t):
        if row_match[a] >= 0:
            track_match[tracks[a]] = dets[row_match[a]]
            det_match[dets[row_match[a]]] = tracks[a]


# ---------------------------------------------------------------------------------------------------------------
# the engine
# ---------------------------------------------------------------------------------------------------------------
@_njit
def _run(frame, box, score, cls, Q, r, velocity_var, gate0, growth, size_weight, innovation_weight, floor2,
         ceiling2, low_gate_scale, two_stage, high_score, low_score, birth_thr, class_aware, recovery, min_hits,
         max_age, tentative_max_age, confident_max_age, confident_slack):
    n = frame.shape[0]
    uid_out = np.full(n, -1, dtype=np.int64)
    tid_out = np.full(n, -1, dtype=np.int64)
    filt = np.empty((n, 2))
    conf_uid = np.empty(n, dtype=np.int64)
    n_conf = 0
    cap = n + 1
    X = np.empty((cap, 4))
    WH = np.empty((cap, 2))
    Qn = np.empty(cap)
    P = np.empty((cap, 4, 4))
    uid = np.empty(cap, dtype=np.int64)
    tid = np.empty(cap, dtype=np.int64)
    hits = np.empty(cap, dtype=np.int64)
    score_sum = np.empty(cap)
    miss = np.empty(cap, dtype=np.int64)
    tcls = np.empty(cap, dtype=np.int64)
    X_obs = np.empty((cap, 4))
    P_obs = np.empty((cap, 4, 4))
    Z_obs = np.empty((cap, 2))
    nt = 0
    next_uid = 0
    next_tid = 1
    track_match = np.full(cap, -1, dtype=np.int64)
    s = 0
    last = -1
    while s < n:
        f = frame[s]
        e = s
        while e < n and frame[e] == f:
            e += 1
        # frames without detections between the last one and this one
        g = last + 1 if last >= 0 else f
        while g <= f:
            nd = e - s if g == f else 0
            n_tracks = nt
            for t in range(nt):
                _predict(X[t], P[t], Q)
            det_match = np.full(nd, -1, dtype=np.int64)
            for t in range(nt):
                track_match[t] = -1
            if nt > 0 and nd > 0:
                dx = box[s:e, 0]
                dy = box[s:e, 1]
                dw = box[s:e, 2]
                dh = box[s:e, 3]
                dcls = cls[s:e]
                high = np.empty(nd, dtype=np.int64)
                low = np.empty(nd, dtype=np.int64)
                nh = 0
                nl = 0
                for b in range(nd):
                    sc = score[s + b]
                    if sc >= low_score:
                        if (not two_stage) or sc >= high_score:
                            high[nh] = b
                            nh += 1
                        else:
                            low[nl] = b
                            nl += 1
                all_tracks = np.arange(nt)
                _associate(all_tracks, nt, high, nh, X, WH, Qn, miss, tcls, dx, dy, dw, dh, dcls, gate0, growth,
                           1.0, size_weight, innovation_weight, floor2, ceiling2, r, class_aware, det_match,
                           track_match)
                if nl > 0:
                    rest = np.empty(nt, dtype=np.int64)
                    nr = 0
                    for t in range(nt):
                        if track_match[t] < 0 and tid[t] >= 0:
                            rest[nr] = t
                            nr += 1
                    if nr > 0:
                        _associate(rest, nr, low, nl, X, WH, Qn, miss, tcls, dx, dy, dw, dh, dcls, gate0, growth,
                                   low_gate_scale, size_weight, innovation_weight, floor2, ceiling2, r, class_aware,
                                   det_match, track_match)
                # Kalman update of the matched tracks; confirmations in track order
                for t in range(nt):
                    b = track_match[t]
                    if b < 0:
                        continue
                    zx = box[s + b, 0]
                    zy = box[s + b, 1]
                    k = miss[t]
                    if innovation_weight > 0 and k == 0:
                        ix = zx - X[t, 0]
                        iy = zy - X[t, 1]
                        Qn[t] = (1.0 - innovation_weight) * Qn[t] + innovation_weight * (0.5 * (ix * ix + iy * iy))
                    if recovery and k > 0:
                        X[t, :] = X_obs[t]
                        P[t, :, :] = P_obs[t]
                        z0x = Z_obs[t, 0]
                        z0y = Z_obs[t, 1]
                        for step in range(1, k + 2):
                            w = step / (k + 1)
                            _predict(X[t], P[t], Q)
                            _update(X[t], P[t], z0x + (zx - z0x) * w, z0y + (zy - z0y) * w, r)
                    else:
                        _update(X[t], P[t], zx, zy, r)
                    X_obs[t, :] = X[t]
                    P_obs[t, :, :] = P[t]
                    Z_obs[t, 0] = zx
                    Z_obs[t, 1] = zy
                    WH[t, 0] = box[s + b, 2]
                    WH[t, 1] = box[s + b, 3]
                    tcls[t] = cls[s + b]
                    hits[t] += 1
                    score_sum[t] += score[s + b]
                    miss[t] = 0
                    if tid[t] < 0 and hits[t] >= min_hits:
                        tid[t] = next_tid
                        next_tid += 1
                        conf_uid[n_conf] = uid[t]
                        n_conf += 1
            for b in range(nd):
                filt[s + b, 0] = box[s + b, 0]
                filt[s + b, 1] = box[s + b, 1]
            if n_tracks > 0:
                keep = 0
                for t in range(nt):
                    b = track_match[t]
                    if b >= 0:
                        uid_out[s + b] = uid[t]
                        tid_out[s + b] = tid[t]
                        filt[s + b, 0] = X[t, 0]
                        filt[s + b, 1] = X[t, 1]
                    else:
                        miss[t] += 1
                    limit = tentative_max_age
                    if tid[t] >= 0:
                        limit = max_age
                        if confident_max_age >= 0 and score_sum[t] / hits[t] >= birth_thr - confident_slack:
                            limit = max(max_age, min(confident_max_age, hits[t]))
                    if miss[t] <= limit:
                        if keep != t:
                            X[keep] = X[t]
                            WH[keep] = WH[t]
                            Qn[keep] = Qn[t]
                            P[keep] = P[t]
                            uid[keep] = uid[t]
                            tid[keep] = tid[t]
                            hits[keep] = hits[t]
                            score_sum[keep] = score_sum[t]
                            miss[keep] = miss[t]
                            tcls[keep] = tcls[t]
                            X_obs[keep] = X_obs[t]
                            P_obs[keep] = P_obs[t]
                            Z_obs[keep] = Z_obs[t]
                        keep += 1
                nt = keep
            for b in range(nd):
                if det_match[b] >= 0 or score[s + b] < birth_thr:
                    continue
                t = nt
                X[t, 0] = box[s + b, 0]
                X[t, 1] = box[s + b, 1]
                X[t, 2] = 0.0
                X[t, 3] = 0.0
                WH[t, 0] = box[s + b, 2]
                WH[t, 1] = box[s + b, 3]
                Qn[t] = r
                P[t, :, :] = 0.0
                P[t, 0, 0] = r
                P[t, 1, 1] = r
                P[t, 2, 2] = velocity_var
                P[t, 3, 3] = velocity_var
                X_obs[t] = X[t]
                P_obs[t] = P[t]
                Z_obs[t, 0] = box[s + b, 0]
                Z_obs[t, 1] = box[s + b, 1]
                uid[t] = next_uid
                next_uid += 1
                tid[t] = -1
                if min_hits <= 1:
                    tid[t] = next_tid
                    next_tid += 1
                    conf_uid[n_conf] = uid[t]
                    n_conf += 1
                hits[t] = 1
                score_sum[t] = score[s + b]
                miss[t] = 0
                tcls[t] = cls[s + b]
                uid_out[s + b] = uid[t]
                tid_out[s + b] = tid[t]
                nt += 1
            if nt == 0 and g < f:  # no live track: the empty frames up to f change nothing
                g = f
            else:
                g += 1
        last = f
        s = e
    return uid_out, tid_out, filt, conf_uid[:n_conf].copy()


# ---------------------------------------------------------------------------------------------------------------
# the per-axis filter of the offline steps (state [p, v], measurement p)
# ---------------------------------------------------------------------------------------------------------------
@_njit
def _filter_axes(z, observed, lengths, Q, r, velocity_var, store):
    T, N = observed.shape
    A = z.shape[2]
    x_last = np.empty((N, A, 2))
    P_last = np.empty((N, 2, 2))
    shape_t = (T, N) if store else (0, 0)
    xf = np.full(shape_t + (A, 2), np.nan)
    Pf = np.full(shape_t + (2, 2), np.nan)
    xp = np.full(shape_t + (A, 2), np.nan)
    Pp = np.full(shape_t + (2, 2), np.nan)
    x = np.empty((A, 2))
    P = np.empty((2, 2))
    for n in range(N):
        for a in range(A):
            x[a, 0] = z[0, n, a, 0]
            x[a, 1] = 0.0
        P[0, 0] = r
        P[0, 1] = 0.0
        P[1, 0] = 0.0
        P[1, 1] = velocity_var
        for t in range(lengths[n]):
            if t > 0:
                for a in range(A):
                    x[a, 0] += x[a, 1]
                P[0, 0] += P[1, 0]
                P[0, 1] += P[1, 1]
                P[0, 0] += P[0, 1]
                P[1, 0] += P[1, 1]
                for i in range(2):
                    for j in range(2):
                        P[i, j] += Q[i, j]
                if store:
                    xp[t, n] = x
                    Pp[t, n] = P
                if observed[t, n]:
                    inv = 1.0 / (P[0, 0] + r)
                    k0 = P[0, 0] * inv
                    k1 = P[1, 0] * inv
                    for a in range(A):
                        y = z[t, n, a, 0] - x[a, 0]
                        x[a, 0] = x[a, 0] + k0 * y
                        x[a, 1] = x[a, 1] + k1 * y
                    # (I - K H) P (I - K H)' + K R K', with I - K H = [[1 - k0, 0], [-k1, 1]]
                    a00, a10 = 1.0 - k0, 0.0 - k1
                    b00 = a00 * P[0, 0] + 0.0 * P[1, 0]
                    b01 = a00 * P[0, 1] + 0.0 * P[1, 1]
                    b10 = a10 * P[0, 0] + 1.0 * P[1, 0]
                    b11 = a10 * P[0, 1] + 1.0 * P[1, 1]
                    P[0, 0] = (b00 * a00 + b01 * 0.0) + (k0 * r) * k0
                    P[0, 1] = (b00 * a10 + b01 * 1.0) + (k0 * r) * k1
                    P[1, 0] = (b10 * a00 + b11 * 0.0) + (k1 * r) * k0
                    P[1, 1] = (b10 * a10 + b11 * 1.0) + (k1 * r) * k1
            elif store:
                xp[0, n] = x
                Pp[0, n] = P
            if store:
                xf[t, n] = x
                Pf[t, n] = P
        x_last[n] = x
        P_last[n] = P
    return x_last, P_last, xf, Pf, xp, Pp


def filter_axes(z: np.ndarray, observed: np.ndarray, lengths: np.ndarray, Q: np.ndarray, r: float,
                velocity_std: float, store: bool) -> dict[str, np.ndarray]:
    """:func:`~spermtrack.tracker.kalman.filter_sequences` for the per-axis model ``[p, v]``, sequence by sequence.

    Parameters
    ----------
    z : ndarray, shape (T, N, A, 1)
        Measurements of ``A`` components (axes) per sequence.
    observed : ndarray of bool, shape (T, N)
    lengths : ndarray of int, shape (N,)
    Q : ndarray, shape (2, 2)
        Process noise.
    r : float
        Measurement variance.
    velocity_std : float
        Prior velocity standard deviation, px/frame.
    store : bool
        Also return every step (``xf``, ``Pf``, ``xp``, ``Pp``).

    Returns
    -------
    dict
        As :func:`~spermtrack.tracker.kalman.filter_sequences` returns.
    """
    warm_up()
    x_last, P_last, xf, Pf, xp, Pp = _filter_axes(
        np.ascontiguousarray(z, dtype=np.float64), np.ascontiguousarray(observed, dtype=np.bool_),
        np.ascontiguousarray(lengths, dtype=np.int64), np.ascontiguousarray(Q, dtype=np.float64), float(r),
        float(velocity_std) ** 2, bool(store))
    out = {"x_last": x_last, "P_last": P_last}
    if store:
        out.update(xf=xf, Pf=Pf, xp=xp, Pp=Pp)
    return out


@_njit
def _rts_axes(xf, Pf, xp, Pp, lengths, F):
    T, N, A = xf.shape[0], xf.shape[1], xf.shape[2]
    xs = xf.copy()
    C = np.empty((2, 2))
    M = np.empty((2, 2))
    for n in range(N):
        for t in range(lengths[n] - 2, -1, -1):
            # C_t = Pf_t F' (Pp_{t+1})^-1, in the order of kalman.rts_smooth_sequences
            for i in range(2):
                for j in range(2):
                    M[i, j] = Pf[t, n, i, 0] * F[j, 0] + Pf[t, n, i, 1] * F[j, 1]
            a, b, c, d = Pp[t + 1, n, 0, 0], Pp[t + 1, n, 0, 1], Pp[t + 1, n, 1, 0], Pp[t + 1, n, 1, 1]
            det = a * d - b * c
            i00, i01, i10, i11 = d / det, -b / det, -c / det, a / det
            for i in range(2):
                C[i, 0] = M[i, 0] * i00 + M[i, 1] * i10
                C[i, 1] = M[i, 0] * i01 + M[i, 1] * i11
            for ax in range(A):
                d0 = xs[t + 1, n, ax, 0] - xp[t + 1, n, ax, 0]
                d1 = xs[t + 1, n, ax, 1] - xp[t + 1, n, ax, 1]
                for i in range(2):
                    xs[t, n, ax, i] = xf[t, n, ax, i] + (C[i, 0] * d0 + C[i, 1] * d1)
    return xs


def rts_axes(filtered: dict[str, np.ndarray], lengths: np.ndarray, F: np.ndarray) -> np.ndarray:
    """:func:`~spermtrack.tracker.kalman.rts_smooth_sequences` for the per-axis model, sequence by sequence.

    ``filtered`` holds ``xf``, ``xp`` of shape (T, N, A, 2) and ``Pf``, ``Pp`` of shape (T, N, 2, 2) from
    :func:`filter_axes`; returns the smoothed means, shaped as ``xf``.
    """
    warm_up()
    return _rts_axes(*(np.ascontiguousarray(filtered[k], dtype=np.float64) for k in ("xf", "Pf", "xp", "Pp")),
                     np.ascontiguousarray(lengths, dtype=np.int64), np.ascontiguousarray(F, dtype=np.float64))


# ---------------------------------------------------------------------------------------------------------------
# close pairs within a frame (encounters)
# ---------------------------------------------------------------------------------------------------------------
@_njit
def _close_pairs(frame, x, y, order, radius):
    n = order.shape[0]
    r2 = radius * radius
    cap = 4 * n + 16
    out = np.empty((cap, 2), dtype=np.int64)
    m = 0
    for q in range(n):
        i = order[q]
        for u in range(q + 1, n):
            j = order[u]
            if frame[j] != frame[i] or x[j] - x[i] > radius:
                break
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            if dx * dx + dy * dy <= r2:
                if m == cap:
                    cap *= 2
                    out = _grown(out, m, cap)
                out[m, 0] = min(i, j)
                out[m, 1] = max(i, j)
                m += 1
    return out[:m].copy()


def close_pairs(frame: np.ndarray, xy: np.ndarray, radius: float) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of points in the same frame whose centres lie within ``radius`` px.

    A sweep over the points sorted by frame and x. Returns an int64 array of shape (pairs, 2), unordered.
    """
    x = np.ascontiguousarray(xy[:, 0], dtype=np.float64)
    y = np.ascontiguousarray(xy[:, 1], dtype=np.float64)
    frame = np.ascontiguousarray(frame, dtype=np.int64)
    warm_up()
    return _close_pairs(frame, x, y, np.lexsort((x, frame)), float(radius))


def run_compiled(frame: np.ndarray, box: np.ndarray, score: np.ndarray, class_id: np.ndarray, cfg: TrackerConfig,
                 Q: np.ndarray, velocity_std: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the online engine over detections sorted by :func:`~spermtrack.tracker.online.frame_order`.

    Parameters
    ----------
    frame, box, score, class_id : ndarray
        Detections sorted by frame (``box`` is ``[x, y, w, h]``, shape (n, 4)).
    cfg : TrackerConfig
        A config :func:`supports` accepts.
    Q : ndarray, shape (4, 4)
        Process noise of the engine's motion model.
    velocity_std : float
        Prior velocity standard deviation of a new track, px/frame.

    Returns
    -------
    uid, track_id : ndarray of int64
        Each detection's tracklet and online id, as :func:`~spermtrack.tracker.batch.run_online` returns.
    filtered_xy : ndarray, shape (n, 2)
        Each detection's centre after its track's update (the detected centre where untracked).
    confirmed_uid : ndarray of int64
        The tracklets confirmed, in order of confirmation.
    """
    if not supports(cfg):
        raise ValueError(f"the compiled engine does not implement cost={cfg.cost!r}, size_in_state={cfg.size_in_state}"
                         f" or a gate of {cfg.max_distance} px")
    if len(frame) > 1 and np.any(frame[1:] < frame[:-1]):
        raise ValueError("run_compiled needs the detections sorted by frame (see frame_order)")
    warm_up()
    return _run(*_run_args(frame, box, score, class_id, cfg, Q, velocity_std))


def _run_args(frame: np.ndarray, box: np.ndarray, score: np.ndarray, class_id: np.ndarray, cfg: TrackerConfig,
              Q: np.ndarray, velocity_std: float) -> tuple:
    """The arguments of ``_run``, with the dtypes and layouts it is compiled for."""
    return (np.ascontiguousarray(frame, dtype=np.int64), np.ascontiguousarray(box, dtype=np.float64),
            np.ascontiguousarray(score, dtype=np.float64), np.ascontiguousarray(class_id, dtype=np.int64),
            np.ascontiguousarray(Q, dtype=np.float64), float(cfg.measurement_std) ** 2, float(velocity_std) ** 2,
            float(cfg.max_distance), float(cfg.gate_growth), float(cfg.size_weight), float(cfg.innovation_weight),
            float(cfg.innovation_floor) ** 2, float(cfg.innovation_ceiling) ** 2, float(cfg.low_gate_scale),
            bool(cfg.two_stage),
            float(cfg.high_score), float(cfg.low_score), float(cfg.birth_threshold),
            bool(cfg.class_aware), bool(cfg.observation_recovery), int(cfg.min_hits), int(cfg.max_age),
            int(cfg.tentative_max_age), -1 if cfg.confident_max_age is None else int(cfg.confident_max_age),
            CONFIDENT_SLACK)


def solve_pairs_into(i: np.ndarray, j: np.ndarray, cost: np.ndarray, limit: float, n_rows: int,
                     n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~spermtrack.tracker.associate.solve_pairs` on the compiled kernel (pairs with ``cost < limit`` only).

    Returns the matched ``(rows, cols)``, sorted by row.
    """
    warm_up()
    row_match = np.full(n_rows, -1, dtype=np.int64)
    _solve_pairs(np.ascontiguousarray(i, dtype=np.int64), np.ascontiguousarray(j, dtype=np.int64),
                 np.ascontiguousarray(cost, dtype=np.float64), len(i), int(n_rows), int(n_cols), float(limit),
                 row_match)
    rows = np.flatnonzero(row_match >= 0)
    return rows, row_match[rows]
