"""Offline refinements of the online tracklets (batch mode only).

All functions work on arrays of detections sorted by frame (as the batch tracker
keeps them) and on *groups* (tracklets or tracks): ``group[k]`` is the group of
detection ``k`` (-1: none), and a group has at most one detection per frame.

Steps, in the order :func:`refine` applies them:

1. **Gap closing** (:func:`link_tracklets`): the end of every tracklet is linked to
   the start of another that begins 1 to ``max_gap + 1`` frames later, all links
   solved as one linear assignment problem (as TrackMate and laptrack do, after
   Jaqaman et al. 2008), with a motion-consistent cost: the end state of tracklet A
   (Kalman filter forward over A) is predicted ``dt`` frames ahead and compared with
   the start state of tracklet B (Kalman filter backward over B) in position *and*
   velocity, ``d^2 = sum_axes D' (F^dt P_A F^dt' + Q_dt + P_B)^-1 D`` with
   ``D = F^dt x_A - x_B`` (chi-square, 4 dof), plus ``gap_penalty * (dt - 1)``.
   With ``size_weight > 0`` (annotated boxes) the cost adds the size term of the online
   cost in the same units, ``size_weight / measurement_std^2`` times the squared difference of
   the mean box sizes at the two ends (:func:`end_sizes`), and the gate holds the sum.
   A link also needs ``|p_B - p_A| <= max_distance + max_speed * (dt - 1)`` and a
   tracklet confirmed online on at least one side (so that false positives never chain
   up among themselves); this is repeated in rounds (:func:`close_gaps`) so that a chain
   grown by one round can link again in the next. With ``long_gap > max_gap``, further
   rounds then link gaps of up to ``long_gap`` frames with the tracker's own smooth model
   (``accel_std``): across a long gap only a cell's average path can be predicted
   (:func:`close_long_gaps`).
2. **Confirmation and back-filling**: a chain of linked tracklets is a track if one
   of its tracklets was confirmed online or it has ``min_hits`` detections in total;
   with ``backfill`` all its detections get its id (otherwise only those that had an
   id online). Chains with fewer than ``min_track_len`` detections, or whose detections score
   below ``min_track_score`` on average, are dropped. Ids are renumbered 1, 2, ... in order of the tracks' first frames.
3. **Encounters** (:func:`spermtrack.tracker.encounters.resolve_encounters`): where two heads meet
   and one detection covers both, the ids may leave the encounter exchanged; they are swapped back
   when motion continuity says so.
4. **Rauch-Tung-Striebel smoothing** (:func:`smooth_groups`) of every track, per axis,
   with the tracker's constant-velocity model; missed frames are prediction-only steps.
5. **Interpolation** (:func:`interpolate_gaps`) of missed frames inside a track, except in a gap
   that a long-gap round linked (a cell out of view, not a missed detection) or one longer than
   ``max_interpolated_gap`` (on annotated boxes every gap: ``annotated_max_interpolated_gap``): it keeps
   the id and gets no rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spermtrack.tracker.associate import size_cost, solve_pairs
from spermtrack.tracker.config import CONFIDENT_SLACK, TrackerConfig
from spermtrack.tracker.kalman import (MotionModel, constant_velocity_model, filter_sequences,
                                       rts_smooth_sequences, transition_powers)

CHUNK_CELLS = 100_000
"""Largest (frames x groups) block the smoother holds at once (bounds memory, to about 25 MB)."""


def axis_model(cfg: TrackerConfig, *, accel_std: float | None = None,
               measurement_std: float | None = None) -> MotionModel:
    """The per-axis model ``[p, v]`` of the tracker (x and y are independent and identical).

    ``accel_std`` / ``measurement_std`` replace the config's values when given.
    """
    return constant_velocity_model(accel_std=cfg.accel_std if accel_std is None else accel_std,
                                   measurement_std=cfg.measurement_std if measurement_std is None
                                   else measurement_std, ndim=1)


@dataclass
class Packed:
    """Detections of groups packed into time-major sequences (see :func:`pack_groups`).

    Attributes
    ----------
    groups : ndarray of int64, shape (G,)
        Group label of each packed group, longest first.
    first, last : ndarray of int64, shape (G,)
        First and last frame of each group.
    z : ndarray, shape (T, G, 2, 1)
        Measurements, ``z[t, p, 0]`` the x and ``z[t, p, 1]`` the y axis of group ``p``: the two
        components of one sequence of the per-axis model (see :func:`filter_sequences`).
    observed : ndarray of bool, shape (T, G)
    lengths : ndarray of int64, shape (G,)
        ``last - first + 1`` per group, non-increasing.
    """

    groups: np.ndarray
    first: np.ndarray
    last: np.ndarray
    z: np.ndarray
    observed: np.ndarray
    lengths: np.ndarray


def group_spans(frame: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per group: label, first frame, last frame, number of detections (groups >= 0 only)."""
    sel = group >= 0
    labels, inv, counts = np.unique(group[sel], return_inverse=True, return_counts=True)
    first = np.full(len(labels), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(labels), -1, dtype=np.int64)
    np.minimum.at(first, inv, frame[sel])
    np.maximum.at(last, inv, frame[sel])
    return labels, first, last, counts


def label_positions(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in the sorted unique ``labels``; -1 where it is not among them.

    Labels are ids, usually spanning a short range: a lookup table over that range then
    answers for every value at once, much faster than a binary search (``np.searchsorted``),
    which stays the fallback for widely spread labels.

    Parameters
    ----------
    labels : ndarray of int, shape (G,)
        Sorted, unique.
    values : ndarray of int, shape (n,)

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    pos = np.full(len(values), -1, dtype=np.int64)
    if len(labels) == 0:
        return pos
    lo, hi = int(labels[0]), int(labels[-1])
    inside = (values >= lo) & (values <= hi)
    v = values[inside]
    if hi - lo <= 4 * (len(values) + len(labels)):
        table = np.full(hi - lo + 1, -1, dtype=np.int64)
        table[labels - lo] = np.arange(len(labels))
        pos[inside] = table[v - lo]
    else:
        idx = np.searchsorted(labels, v)
        pos[inside] = np.where(labels[idx] == v, idx, -1)
    return pos


def pack_groups(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, labels: np.ndarray, first: np.ndarray,
                last: np.ndarray, *, reverse: bool = False) -> tuple[Packed, np.ndarray, np.ndarray]:
    """Pack the detections of the given groups into padded time-major sequences.

    Parameters
    ----------
    frame, xy, group : ndarray
        Detections: frame (n,), centre (n, 2), group label (n,).
    labels, first, last : ndarray
        Groups to pack (sorted labels) and their spans, as from :func:`group_spans`.
    reverse : bool
        Run time backwards (step 0 is each group's last frame).

    Returns
    -------
    packed : Packed
    rows : ndarray of int64
        Detections that belong to the packed groups.
    cell : tuple of ndarray
        ``(t, p)`` of each of ``rows``: step and group position in the packed arrays.
    """
    lengths = last - first + 1
    order = np.argsort(-lengths, kind="stable")
    pos_of = np.empty(len(labels), dtype=np.int64)
    pos_of[order] = np.arange(len(labels))
    pos = label_positions(labels, group)
    rows = np.flatnonzero(pos >= 0)
    gi = pos[rows]
    p = pos_of[gi]
    t = (last[gi] - frame[rows]) if reverse else (frame[rows] - first[gi])
    T = int(lengths.max()) if len(lengths) else 0
    G = len(labels)
    z = np.zeros((T, G, 2, 1))
    observed = np.zeros((T, G), dtype=bool)
    z[t, p, :, 0] = xy[rows]
    observed[t, p] = True
    packed = Packed(groups=labels[order], first=first[order], last=last[order], z=z, observed=observed,
                    lengths=lengths[order])
    return packed, rows, (t, p)


def _chunks(lengths: np.ndarray) -> list[slice]:
    """Split groups (longest first) into slices whose padded block stays below CHUNK_CELLS."""
    out, start = [], 0
    G = len(lengths)
    while start < G:
        width = max(1, CHUNK_CELLS // max(int(lengths[start]), 1))
        out.append(slice(start, min(G, start + width)))
        start += width
    return out


END_WINDOW = 32
"""Frames at each end of a tracklet that :func:`end_states` filters over."""

SIZE_WINDOW = 5
"""Frames at each end of a tracklet whose box sizes :func:`end_sizes` averages."""


def _near_end(frame: np.ndarray, group: np.ndarray, labels: np.ndarray, first: np.ndarray, last: np.ndarray, *,
              reverse: bool, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Position of each detection's group in ``labels`` (-1: none), and whether the detection lies within
    ``window`` frames of its group's end (with ``reverse``, its start)."""
    gi = label_positions(labels, group)
    inside = gi >= 0
    inside[inside] &= np.abs(frame[inside] - (first if reverse else last)[gi[inside]]) < window
    return gi, inside


def end_states(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, labels: np.ndarray, first: np.ndarray,
               last: np.ndarray, model: MotionModel, *, velocity_std: float, reverse: bool = False,
               window: int | None = END_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Filtered per-axis state at the end (or, with ``reverse``, the start) of every group.

    Only the last (first) ``window`` frames of each group are filtered: the filter forgets
    its start within a few frames, so the result equals that of the whole group to well
    below a pixel while the cost no longer grows with the tracks' length. ``None`` filters
    the whole group.

    Returns
    -------
    x : ndarray, shape (G, 2, 2)
        ``x[g, axis] = [p, v]`` (px, px/frame), in the order of ``labels``. With ``reverse``
        the velocity is given in forward time.
    P : ndarray, shape (G, 2, 2, 2)
        Covariance of ``[p, v]`` per axis.
    """
    G = len(labels)
    x = np.empty((G, 2, 2))
    P = np.empty((G, 2, 2, 2))
    if window is not None:  # keep the detections within `window` frames of the end that matters
        _, inside = _near_end(frame, group, labels, first, last, reverse=reverse, window=window)
        group = np.where(inside, group, -1)
        kept, first, last, _ = group_spans(frame, group)  # spans of what is left (every group keeps its end)
        assert np.array_equal(kept, labels)
    lengths = last - first + 1
    order = np.argsort(-lengths, kind="stable")
    for part in _chunks(lengths[order]):
        sel = np.sort(order[part])
        packed, _, _ = pack_groups(frame, xy, group, labels[sel], first[sel], last[sel], reverse=reverse)
        res = filter_sequences(packed.z, packed.observed, packed.lengths, model, velocity_std=velocity_std,
                               store=False)
        gpos = np.searchsorted(labels, packed.groups)
        x[gpos] = res["x_last"]
        P[gpos] = res["P_last"][:, None]  # the same covariance for both axes
    if reverse:
        x, P = forward_time(x, P)
    return x, P


def end_sizes(frame: np.ndarray, wh: np.ndarray, group: np.ndarray, labels: np.ndarray, first: np.ndarray,
              last: np.ndarray, *, reverse: bool = False, window: int = SIZE_WINDOW) -> np.ndarray:
    """Mean box size over the detections within ``window`` frames of the end (with ``reverse``, the start)
    of every group.

    Parameters
    ----------
    frame, wh, group : ndarray
        Detections (frame, ``(w, h)`` px, group label; -1 = none).
    labels, first, last : ndarray
        The groups and their spans (:func:`group_spans`).

    Returns
    -------
    ndarray, shape (G, 2)
        Mean ``(w, h)`` per group, in the order of ``labels`` (every group has its end frame).
    """
    gi, inside = _near_end(frame, group, labels, first, last, reverse=reverse, window=window)
    g = gi[inside]
    count = np.bincount(g, minlength=len(labels)).astype(np.float64)
    total = np.stack([np.bincount(g, weights=wh[inside, k], minlength=len(labels)) for k in range(2)], axis=1)
    return total / count[:, None]


def forward_time(x: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """States ``[p, v]`` (..., 2) and covariances (..., 2, 2) of a backward filter in forward time.

    ``J x`` and ``J P J`` with ``J = diag(1, -1)``: the velocity changes sign. New arrays.
    """
    x, P = x.copy(), P.copy()
    x[..., 1] *= -1.0
    P[..., 0, 1] *= -1.0
    P[..., 1, 0] *= -1.0
    return x, P


def continuity_d2(xa: np.ndarray, Pa: np.ndarray, xb: np.ndarray, Pb: np.ndarray, dt: np.ndarray, Fk: np.ndarray,
                  Qk: np.ndarray, noise_scale: np.ndarray | None = None) -> np.ndarray:
    """Chi-square of states ``xa`` predicted ``dt`` frames ahead against states ``xb``, summed over both axes.

    ``D = F^dt x_A - x_B``, ``S = F^dt P_A F^dt' + c Q_dt + P_B``, ``d^2 = sum_axes D' S^-1 D`` per pair; the
    motion-consistent link cost of gap closing and of encounters.

    Parameters
    ----------
    xa, xb : ndarray, shape (N, 2, 2)
        ``[p, v]`` per pair and axis, before and after.
    Pa, Pb : ndarray, shape (N, 2, 2, 2)
    dt : ndarray of int, shape (N,)
    Fk, Qk : ndarray
        :func:`~spermtrack.tracker.kalman.transition_powers` of the per-axis model, long enough for ``dt``.
    noise_scale : ndarray, shape (N,), optional
        ``c``, a factor on the process noise per pair (the encounters' motility scale); default 1.

    Returns
    -------
    ndarray, shape (N,)
    """
    F = Fk[dt][:, None]  # (pairs, 1, 2, 2), broadcast over axes
    D = (F @ xa[..., None])[..., 0] - xb
    Q = Qk[dt][:, None]
    if noise_scale is not None:
        Q = Q * np.asarray(noise_scale, dtype=np.float64)[:, None, None, None]
    S = F @ Pa @ np.swapaxes(F, -1, -2) + Q + Pb
    return np.einsum("pai,paij,paj->p", D, np.linalg.inv(S), D)


def close_gaps(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, confirmed: np.ndarray, cfg: TrackerConfig, *,
               wh: np.ndarray | None = None, max_rounds: int = 4) -> np.ndarray:
    """Gap closing in rounds: chain label for every tracklet (see module docstring, step 1).

    Each round links chain ends to chain starts with :func:`link_tracklets`, allowing only
    links with a confirmed chain on at least one side, so that unconfirmed fragments
    (e.g. false positives) never chain up among themselves; a fragment linked to a confirmed
    chain makes it part of that chain, which may then link further in the next round.

    Parameters
    ----------
    frame, xy, group : ndarray
        Detections (frame, centre, tracklet label; -1 = none).
    confirmed : ndarray of bool
        Per detection: its tracklet was confirmed online.
    cfg : TrackerConfig
    wh : ndarray, shape (N, 2), optional
        Box sizes of the detections, for the size term (``cfg.size_weight > 0``).
    max_rounds : int
        Stop after this many rounds (or when a round adds no link).

    Returns
    -------
    ndarray of int64
        The chain label of each detection (-1 stays -1).
    """
    chain = group.copy()
    for _ in range(max_rounds):
        conf_labels = np.unique(chain[confirmed & (chain >= 0)])
        new = link_tracklets(frame, xy, chain, cfg, confirmed_labels=conf_labels, wh=wh)
        if np.array_equal(new, chain):
            break
        chain = new
    return chain


def close_long_gaps(frame: np.ndarray, xy: np.ndarray, chain: np.ndarray, confirmed: np.ndarray, cfg: TrackerConfig,
                    *, wh: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The long-gap rounds after :func:`close_gaps`: gaps of up to ``cfg.long_gap`` missed frames, linked with
    the tracker's own smooth model (``accel_std``), as across a long gap only a cell's average path can be predicted.

    Parameters
    ----------
    frame, xy, chain, confirmed : ndarray
        As :func:`close_gaps` takes them; ``chain`` is its result.
    cfg : TrackerConfig
    wh : ndarray, shape (N, 2), optional
        Box sizes, as :func:`close_gaps` takes them.

    Returns
    -------
    chain : ndarray of int64
        The chain label of each detection.
    long_start : ndarray of bool
        True on the first detection after each gap these rounds bridged (where :func:`interpolate_gaps`
        adds no rows).
    """
    if cfg.long_gap <= cfg.max_gap:
        return chain.copy(), np.zeros(len(chain), dtype=bool)
    linked = close_gaps(frame, xy, chain, confirmed, replace(cfg, max_gap=cfg.long_gap, gap_accel_std=None), wh=wh)
    labels, first, _, _ = group_spans(frame, chain)
    heads = np.flatnonzero((chain >= 0) & (frame == first[np.maximum(label_positions(labels, chain), 0)]))
    long_start = np.zeros(len(chain), dtype=bool)
    long_start[heads] = linked[heads] != chain[heads]  # a chain that now carries an earlier chain's label
    return linked, long_start


def link_tracklets(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, cfg: TrackerConfig, *,
                   confirmed_labels: np.ndarray | None = None, wh: np.ndarray | None = None) -> np.ndarray:
    """One round of gap closing: chain label for every tracklet (module docstring, step 1).

    Parameters
    ----------
    frame, xy, group : ndarray
        Detections (frame, centre, tracklet label; -1 = none).
    cfg : TrackerConfig
        Uses ``max_gap``, ``gap_gate``, ``gap_penalty``, ``max_distance``, ``max_speed``,
        ``gap_accel_std`` (or ``accel_std``), ``measurement_std``, ``size_weight``.
    confirmed_labels : ndarray, optional
        If given, a link needs one of its two tracklets among these labels.
    wh : ndarray, shape (N, 2), optional
        Box sizes of the detections; with ``cfg.size_weight > 0`` the cost (and the gate) adds
        ``size_weight / measurement_std^2`` times the squared difference of the two ends' mean sizes
        (:func:`end_sizes`).

    Returns
    -------
    ndarray of int64, same shape as ``group``
        The chain (the label of its first tracklet) of each detection; -1 stays -1.
    """
    labels, first, last, _ = group_spans(frame, group)
    G = len(labels)
    if G < 2:
        return group.copy()
    model = axis_model(cfg, accel_std=cfg.gap_accel_std)
    vstd = cfg.max_speed / 2.0
    xa, Pa = end_states(frame, xy, group, labels, first, last, model, velocity_std=vstd)
    xb, Pb = end_states(frame, xy, group, labels, first, last, model, velocity_std=vstd, reverse=True)
    # candidate pairs: start of b within 1 .. max_gap + 1 frames after the end of a
    by_first = np.argsort(first, kind="stable")
    lo = np.searchsorted(first[by_first], last + 1, side="left")
    hi = np.searchsorted(first[by_first], last + cfg.max_gap + 2, side="left")
    count = hi - lo
    a = np.repeat(np.arange(G), count)
    if a.size == 0:
        return group.copy()
    offsets = np.arange(a.size) - np.repeat(np.cumsum(count) - count, count)
    b = by_first[np.repeat(lo, count) + offsets]
    dt = first[b] - last[a]
    pa = xa[a, :, 0]
    pb = xb[b, :, 0]
    jump = np.hypot(*(pb - pa).T)
    near = jump <= cfg.max_distance + cfg.max_speed * (dt - 1)
    if confirmed_labels is not None:
        conf = np.isin(labels, confirmed_labels)
        near &= conf[a] | conf[b]
    a, b, dt = a[near], b[near], dt[near]
    if a.size == 0:
        return group.copy()
    Fk, Qk = transition_powers(model.F, model.Q, cfg.max_gap + 1)
    d2 = continuity_d2(xa[a], Pa[a], xb[b], Pb[b], dt, Fk, Qk)
    if wh is not None and cfg.size_weight > 0:
        sa = end_sizes(frame, wh, group, labels, first, last)
        sb = end_sizes(frame, wh, group, labels, first, last, reverse=True)
        d2 = d2 + cfg.size_weight / cfg.measurement_std ** 2 * size_cost(sa[a], sb[b])
    ok = d2 <= cfg.gap_gate
    cost = d2 + cfg.gap_penalty * (dt - 1)
    limit = cfg.gap_gate + cfg.gap_penalty * cfg.max_gap
    rows, cols = solve_pairs(a[ok], b[ok], cost[ok], limit * (1 + 1e-9) + 1e-12)
    # chains: process links in order of the later tracklet's start, so predecessors are final
    chain = np.arange(G)
    for k in np.argsort(first[cols], kind="stable"):
        chain[cols[k]] = chain[rows[k]]
    gi = label_positions(labels, group)
    sel = gi >= 0
    out = group.copy()
    out[sel] = labels[chain[gi[sel]]]
    return out


def smooth_groups(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, cfg: TrackerConfig) -> dict[str,
                                                                                                    np.ndarray]:
    """Rauch-Tung-Striebel smoothing of every group, over every frame of its span.

    Parameters
    ----------
    frame, xy, group : ndarray
        Detections (frame, measured centre, track label; -1 = none).
    cfg : TrackerConfig
        Uses ``smooth_accel_std`` (or ``accel_std``), ``smooth_measurement_std`` (or
        ``measurement_std``) and ``max_speed``.

    Returns
    -------
    dict of ndarray
        One entry per (group, frame) from each group's first to last frame: ``group``,
        ``frame``, ``x_s``, ``y_s`` (smoothed centre, px), ``vx_s``, ``vy_s`` (px/frame),
        sorted by group then frame.
    """
    labels, first, last, _ = group_spans(frame, group)
    lengths = last - first + 1
    total = int(lengths.sum())
    out = {"group": np.repeat(labels, lengths),
           "frame": np.repeat(first, lengths) + (np.arange(total) - np.repeat(np.cumsum(lengths) - lengths,
                                                                              lengths)),
           "x_s": np.empty(total), "y_s": np.empty(total), "vx_s": np.empty(total), "vy_s": np.empty(total)}
    if total == 0:
        return out
    model = axis_model(cfg, accel_std=cfg.smooth_accel_std, measurement_std=cfg.smooth_measurement_std)
    start = np.cumsum(lengths) - lengths  # offset of each group's first frame in the output
    order = np.argsort(-lengths, kind="stable")
    for part in _chunks(lengths[order]):
        sel = np.sort(order[part])
        packed, _, _ = pack_groups(frame, xy, group, labels[sel], first[sel], last[sel])
        filt = filter_sequences(packed.z, packed.observed, packed.lengths, model, velocity_std=cfg.max_speed / 2.0)
        xs = rts_smooth_sequences(filt, packed.lengths, model.F)  # (T, G, 2 axes, [p, v])
        gpos = np.searchsorted(labels, packed.groups)
        L = packed.lengths
        t = np.arange(int(L.sum())) - np.repeat(np.cumsum(L) - L, L)
        p = np.repeat(np.arange(len(L)), L)
        dest = np.repeat(start[gpos], L) + t
        out["x_s"][dest] = xs[t, p, 0, 0]
        out["y_s"][dest] = xs[t, p, 1, 0]
        out["vx_s"][dest] = xs[t, p, 0, 1]
        out["vy_s"][dest] = xs[t, p, 1, 1]
    return out


def interpolate_gaps(frame: np.ndarray, values: np.ndarray, group: np.ndarray, *,
                     skip_after: np.ndarray | None = None,
                     max_gap: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation of the frames a group misses between two of its detections.

    Parameters
    ----------
    frame : ndarray of int, shape (n,)
    values : ndarray, shape (n, k)
        Columns to interpolate (e.g. ``x, y, w, h``).
    group : ndarray of int, shape (n,)
        Group label (-1: ignored).
    skip_after : ndarray of bool, shape (n,), optional
        A gap whose later detection is flagged here is left empty (the long-gap links:
        :func:`close_long_gaps`).
    max_gap : int, optional
        A gap of more than this many missing frames is left empty (None: no limit).

    Returns
    -------
    new_group, new_frame : ndarray of int64, shape (r,)
        The missing (group, frame) cells, sorted by group then frame.
    new_values : ndarray, shape (r, k)
        ``v0 + (f - f0) / (f1 - f0) * (v1 - v0)`` between the detections before (f0) and after (f1).
    source : ndarray of int64, shape (r,)
        The detection before each gap (to copy e.g. the class from).
    """
    idx = np.flatnonzero(group >= 0)
    idx = idx[np.lexsort((frame[idx], group[idx]))]
    g, f = group[idx], frame[idx]
    step = np.diff(f)
    gap = (g[1:] == g[:-1]) & (step > 1)
    if skip_after is not None:
        gap &= ~skip_after[idx[1:]]
    if max_gap is not None:
        gap &= step - 1 <= max_gap
    gap = np.flatnonzero(gap)
    n_new = step[gap] - 1
    if gap.size == 0:
        return (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty((0, values.shape[1])),
                np.empty(0, dtype=np.int64))
    before = idx[gap]
    after = idx[gap + 1]
    rep = np.repeat(np.arange(gap.size), n_new)
    k = np.arange(rep.size) - np.repeat(np.cumsum(n_new) - n_new, n_new) + 1
    f0 = frame[before][rep]
    f1 = frame[after][rep]
    alpha = (k / (f1 - f0))[:, None]
    v0 = values[before][rep]
    v1 = values[after][rep]
    return group[before][rep].astype(np.int64), (f0 + k).astype(np.int64), v0 + alpha * (v1 - v0), before[rep]


def finalise_ids(frame: np.ndarray, chain: np.ndarray, online_tid: np.ndarray, confirmed_chain: np.ndarray,
                 cfg: TrackerConfig, *, score: np.ndarray | None = None) -> np.ndarray:
    """Turn chain labels into track ids (module docstring, step 2).

    Parameters
    ----------
    frame : ndarray of int, shape (n,)
        Detections, sorted by frame.
    chain : ndarray of int, shape (n,)
        Chain label of each detection (-1: none).
    online_tid : ndarray of int, shape (n,)
        Id given online (-1 while tentative or never tracked).
    confirmed_chain : ndarray of bool, shape (n,)
        Whether the detection's chain contains a tracklet confirmed online.
    cfg : TrackerConfig
        Uses ``min_hits``, ``backfill``, ``min_track_len``, ``min_track_score``.
    score : ndarray of float, shape (n,), optional
        Detection scores (needed for ``min_track_score > 0``).

    Returns
    -------
    ndarray of int64
        Final ``track_id`` per detection (1, 2, ... by first frame; -1: none).
    """
    labels, first, _, counts = group_spans(frame, chain)
    out = np.full(len(frame), -1, dtype=np.int64)
    if len(labels) == 0:
        return out
    gi = label_positions(labels, chain)
    has = gi >= 0
    conf_label = np.zeros(len(labels), dtype=bool)
    conf_label[gi[has & confirmed_chain]] = True
    conf_label |= counts >= cfg.min_hits
    conf_label &= counts >= cfg.min_track_len
    if cfg.min_track_score > 0:
        if score is None:
            raise ValueError("finalise_ids: min_track_score needs the detection scores")
        total = np.bincount(gi[has], weights=score[has], minlength=len(labels))
        conf_label &= total >= cfg.min_track_score * counts - CONFIDENT_SLACK * counts
    keep = has & conf_label[np.where(has, gi, 0)]
    if not cfg.backfill:
        keep &= online_tid >= 0
    # renumber kept chains by first frame (ties: first row)
    if keep.any():
        first_row = np.full(len(labels), len(frame), dtype=np.int64)
        np.minimum.at(first_row, gi[keep], np.flatnonzero(keep))
        kept = np.unique(gi[keep])
        rank = np.empty(len(labels), dtype=np.int64)
        rank[kept[np.lexsort((first_row[kept], first[kept]))]] = np.arange(1, kept.size + 1)
        out[keep] = rank[gi[keep]]
    return out
