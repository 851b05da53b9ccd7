"""Encounters: undo exchanges of ids where two heads meet (batch mode only, after gap closing).

Where two tracks come within ``encounter_radius`` px of each other and one detection covers both heads
for a few frames, the online association may leave the encounter with the two ids exchanged (video 11
frames 657-664: a still cell and a slow one 5-8 px apart, merged into one box; BoT-SORT swapped them
too). The states of both tracks before and after the encounter are compared, as in gap closing but with
the tracker's own smooth model, and the ids after it are swapped when the exchanged pairing fits better
by ``encounter_margin`` and better for each of the two tracks on its own, or, where one of the two is a
still cell, better for that cell by ``encounter_margin`` (:func:`exchanged`, below).

A cell keeps its motility through an encounter: an immotile cell does not start swimming, nor a swimming
one stop dead, within the encounter's frames. So each pairing's process noise is scaled by the motility of
the slower of its two states (:func:`motility_scale`): held to a still cell's near-zero noise, the pairing of
a still cell with a swimmer's continuation costs what it should. Without it, a slow passer that merges with
a still cell and turns back (video 11 frames 520-1028 seen by a detector that never trained on them) leaves
with the still cell's id: across 25 frames the shared smooth model spreads a still cell's predicted position
by about 14 px per axis, so a move of 12 px costs it less than one standard deviation.

The assumption has its mirror case: where a swimmer stops beside a still cell in the same frames as the still
cell starts to move, the step prefers the exchange and gets it wrong (the shared model would keep the ids).
Both cells changing motility at once is rarer than a passer turning back: on the detector-like and annotated
tracks of the 16 training videos the scaling changed nothing or gained (see ``encounter_motile_speed``).

Where one of the two was still before the encounter (slower than half ``encounter_motile_speed``) and the
continuation it would take in the exchanged pairing is not motile, its own fit may decide alone
(:func:`still_anchor`, :func:`exchanged`). A passer that turns sharply while the two heads are merged can make
its true continuation cost more than its exchanged one, so the rule "each track fits better" keeps the
exchange; the still cell's place says which continuation is its own. Cross-fitted detections of video 11
frames 0-519 hold two such encounters (a passer comes down onto a still cell and leaves to the side, turned
by about 90 degrees): 0.612 / 0.771 -> 0.626 / 0.804 HOTA / IDF1 (``benchmarks/crossfit_bench.py``). It
widens the mirror case: a still cell that starts to swim at about ``encounter_motile_speed`` or slower while a
passer goes by may take the passer's id. In a grid of synthetic two-cell scenes (straight passes, turns,
motility changes, slow and fast pairs; stop 42's review) it undid 429 exchanges the rule "each track fits
better" left and made 190 new errors, all but one where a cell changed its motility within the encounter.
"""

from __future__ import annotations

import numpy as np

from spermtrack.tracker import compiled
from spermtrack.tracker.config import TrackerConfig
from spermtrack.tracker.kalman import MotionModel, filter_sequences, transition_powers
from spermtrack.tracker.offline import axis_model, continuity_d2, forward_time, interpolate_gaps

__all__ = ["GroupIndex", "encounter_spans", "exchanged", "motility_scale", "resolve_encounters", "side_states",
           "still_anchor"]

#: Process-noise scale of a pairing whose slower state is still (:func:`motility_scale`).
STILL_NOISE_FLOOR = 0.01
#: A track is still before an encounter below this fraction of ``encounter_motile_speed`` (:func:`still_anchor`).
STILL_SPEED_FRACTION = 0.5


class GroupIndex:
    """Detections by (group, frame), for counting and slicing one group's detections in a frame range."""

    def __init__(self, frame: np.ndarray, group: np.ndarray):
        self.span = int(frame.max()) + 2 if len(frame) else 1
        key = group.astype(np.int64) * self.span + frame
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]

    def _bounds(self, g, lo, hi) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(g, dtype=np.int64)
        lo, hi = (np.clip(np.asarray(v, dtype=np.int64), 0, self.span - 1) for v in (lo, hi))
        return (np.searchsorted(self.key, g * self.span + lo, side="left"),
                np.searchsorted(self.key, g * self.span + hi, side="left"))

    def count(self, g, lo, hi) -> np.ndarray:
        """Detections of group ``g`` in frames ``lo <= f < hi`` (element-wise)."""
        start, stop = self._bounds(g, lo, hi)
        return stop - start

    def rows(self, g: int, lo: int, hi: int) -> np.ndarray:
        """Indices of the detections of group ``g`` in frames ``lo <= f < hi``, in frame order."""
        start, stop = self._bounds(g, lo, hi)
        return self.order[int(start):int(stop)]


def encounter_spans(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, radius: float,
                    max_span: int) -> list[tuple[int, int, int, int]]:
    """Close encounters of two tracks: ``(first frame, last frame, a, b)`` in order of their last frame.

    Positions in frames a track missed are interpolated linearly; two tracks are close in a frame when
    their centres lie within ``radius`` px. Close frames of one pair less than 4 frames apart form one
    encounter. Only encounters where one of the two tracks misses a detection are kept (one detection
    covered both heads: where each head kept its own, the ids had a detection to follow), and none
    longer than ``max_span`` frames.
    """
    has = group >= 0
    g, f, values, _ = interpolate_gaps(frame, np.column_stack([xy, np.zeros((len(xy), 2))]), group)
    pf = np.concatenate([frame[has], f])
    pxy = np.concatenate([xy[has], values[:, :2]])
    pg = np.concatenate([group[has], g])
    if len(pf) < 2:
        return []
    if compiled.available():
        pairs = compiled.close_pairs(pf, pxy, radius)
    else:  # one tree over (x, y, frame * 4 radius): points of different frames are never within radius
        from scipy.spatial import cKDTree  # here, not at import: scipy is not needed before the first frame

        pairs = cKDTree(np.column_stack([pxy, pf * 4.0 * radius])).query_pairs(radius, output_type="ndarray")
    if not len(pairs):
        return []
    a, b = np.minimum(pg[pairs[:, 0]], pg[pairs[:, 1]]), np.maximum(pg[pairs[:, 0]], pg[pairs[:, 1]])
    fr = pf[pairs[:, 0]]
    order = np.lexsort((fr, b, a))
    a, b, fr = a[order], b[order], fr[order]
    new = np.concatenate([[True], (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (fr[1:] - fr[:-1] > 3)])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(fr)) - 1
    first, last, a, b = fr[starts], fr[ends], a[starts], b[starts]
    index = GroupIndex(frame, group)
    merged = ((index.count(a, first, last + 1) < last - first + 1)
              | (index.count(b, first, last + 1) < last - first + 1))
    keep = merged & (last - first <= max_span)
    spans = zip(last[keep].tolist(), first[keep].tolist(), a[keep].tolist(), b[keep].tolist())
    return [(f, la, g, h) for la, f, g, h in sorted(spans)]


def motility_scale(speed_before: np.ndarray, speed_after: np.ndarray, motile_speed: float) -> np.ndarray | None:
    """Process-noise scale of each pairing across an encounter, from the motility of its slower state.

    ``c = clip((v / motile_speed)^2, STILL_NOISE_FLOOR, 1)`` with ``v`` the lower of the two states' speeds:
    the full smooth model for cells at least ``motile_speed`` px/frame fast on both sides, a hundredth of its
    acceleration variance where one side is still.

    Parameters
    ----------
    speed_before, speed_after : ndarray, shape (N,)
        px/frame of each pairing's states on the two sides of the encounter.
    motile_speed : float
        px/frame; 0 or less: no scaling (returns None).

    Returns
    -------
    ndarray, shape (N,), or None
    """
    if motile_speed <= 0:
        return None
    return np.clip((np.minimum(speed_before, speed_after) / motile_speed) ** 2, STILL_NOISE_FLOOR, 1.0)


def still_anchor(speed_before: np.ndarray, speed_swapped: np.ndarray, *, still_speed: float,
                 motile_speed: float) -> np.ndarray:
    """Per encounter, the track whose own fit may decide it (:func:`exchanged`): 0 for ``a``, 1 for ``b``, -1 none.

    That is the one track of the two that was still before the encounter, provided the continuation it
    would take in the exchanged pairing is not motile: a still cell stays still. Where both or neither
    were still, or the still one would have to leave swimming, no track decides alone.

    Parameters
    ----------
    speed_before : ndarray, shape (N, 2)
        px/frame of ``a`` and ``b`` before each encounter.
    speed_swapped : ndarray, shape (N, 2)
        px/frame of the continuation each would take if exchanged (``b``'s for ``a``, ``a``'s for ``b``).
    still_speed, motile_speed : float
        px/frame: still below the first, motile from the second.

    Returns
    -------
    ndarray of int, shape (N,)
    """
    still = speed_before < still_speed
    who = np.where(still[:, 0], 0, 1)
    settles = speed_swapped[np.arange(len(who)), who] < motile_speed
    return np.where((still[:, 0] != still[:, 1]) & settles, who, -1)


def exchanged(keep_a: float, keep_b: float, swap_a: float, swap_b: float, *, anchor: int, margin: float) -> bool:
    """Whether two tracks left an encounter with their ids exchanged, from the ``d^2`` of the four pairings.

    Either each track fits the other's continuation better and the swapped pairings sum lower by ``margin``;
    or the still cell of the two (``anchor``, :func:`still_anchor`) fits the other's continuation better by
    ``margin``. A still cell's place is known far better than the path of a swimmer that turns while the two
    heads are merged, and such a turn can make the swimmer's true continuation cost more than its exchanged
    one: there the still cell's own fit decides.

    Parameters
    ----------
    keep_a, keep_b : float
        ``d^2`` of each track (``a``, ``b``) before the encounter against its own continuation after it.
    swap_a, swap_b : float
        ``d^2`` of each against the other's continuation.
    anchor : int
        0 or 1: ``a`` or ``b`` is the still cell whose own fit may decide; -1: none.
    margin : float
        How much lower the swapped pairing must be.

    Returns
    -------
    bool
    """
    if swap_a < keep_a and swap_b < keep_b and swap_a + swap_b + margin < keep_a + keep_b:
        return True
    if anchor >= 0:
        own_keep, own_swap = (keep_a, swap_a) if anchor == 0 else (keep_b, swap_b)
        return own_swap + margin < own_keep
    return False


def resolve_encounters(frame: np.ndarray, xy: np.ndarray, group: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """Swap the ids of two tracks after an encounter where motion continuity says they were exchanged.

    For each encounter (:func:`encounter_spans`), in time order, the last ``encounter_window`` frames
    of detections of both tracks before it and the first after it give four states (Kalman filter with
    the tracker's model, as :func:`end_states`); each pairing is scored like a gap-closing link,
    ``d^2`` of the state before predicted across the encounter against the state after, its process noise
    scaled by the pairing's motility (:func:`motility_scale`, ``encounter_motile_speed``). The ids after
    the encounter are swapped when :func:`exchanged` says so: the swapped pairing's sum is lower by
    ``encounter_margin`` and each track fits the other's continuation better than its own, or the one
    still track's own swapped pairing is lower by ``encounter_margin``. Later encounters follow the swapped
    labels; one that straddles an earlier swap is left alone.

    Returns
    -------
    ndarray of int64
        The group of each detection, with swaps applied (-1 stays -1).
    """
    group = group.copy()
    if cfg.encounter_radius <= 0:
        return group
    model = axis_model(cfg)
    window = cfg.encounter_window
    Fk, Qk = transition_powers(model.F, model.Q, cfg.encounter_max_span + 2 * window + 8)
    swaps: list[tuple[int, int, int]] = []  # (last frame of the encounter, a, b): ids exchanged after it
    pending = encounter_spans(frame, xy, group, cfg.encounter_radius, cfg.encounter_max_span)
    while pending:  # rounds: one filter pass for every pending encounter, then decisions in time order
        index = GroupIndex(frame, group)
        todo = []
        for first, last, a0, b0 in pending:
            if any(first <= at < last for at, _, _ in swaps):
                continue  # it straddles an earlier swap: its labels name different cells on its two sides
            a, b = a0, b0
            for at, p, q in sorted(swaps):  # the spans were found with the labels before any swap
                if at < first:
                    a, b = ({p: q, q: p}.get(a, a), {p: q, q: p}.get(b, b))
            sides = [index.rows(g, first - window, first) for g in (a, b)]
            sides += [index.rows(g, last + 1, last + window + 1) for g in (a, b)]
            if min(len(side) for side in sides) >= 4:
                todo.append((first, last, a, b, (a0, b0), sides))
        if not todo:
            break
        x, P, at_frame = side_states(frame, xy, [side for *_, sides in todo for side in sides],
                                     np.tile([False, False, True, True], len(todo)), model,
                                     velocity_std=cfg.max_speed / 2.0)
        # per encounter, sides 0/1 are a/b before and 2/3 after it: the kept pairings (0-2, 1-3), the swapped (0-3, 1-2)
        before = 4 * np.arange(len(todo))[:, None] + np.array([0, 1, 0, 1])
        after = 4 * np.arange(len(todo))[:, None] + np.array([2, 3, 3, 2])
        pre, post = before.ravel(), after.ravel()
        speed = np.hypot(x[:, 0, 1], x[:, 1, 1])
        scale = motility_scale(speed[pre], speed[post], cfg.encounter_motile_speed)
        d2 = continuity_d2(x[pre], P[pre], x[post], P[post], at_frame[post] - at_frame[pre], Fk, Qk,
                           scale).reshape(len(todo), 4)
        anchors = still_anchor(speed[before[:, :2]], speed[after[:, 2:]], motile_speed=cfg.encounter_motile_speed,
                               still_speed=STILL_SPEED_FRACTION * cfg.encounter_motile_speed)
        pending, tainted = [], set()  # tracks whose later sides are stale after a swap in this round
        for k, (first, last, a, b, original, _) in enumerate(todo):
            if a in tainted or b in tainted:
                tainted |= {a, b}
                pending.append((first, last, *original))
                continue
            if exchanged(*d2[k], anchor=int(anchors[k]), margin=cfg.encounter_margin):
                later = frame > last
                in_a, in_b = later & (group == a), later & (group == b)
                group[in_a], group[in_b] = b, a
                swaps.append((last, a, b))
                tainted |= {a, b}
    return group


def side_states(frame: np.ndarray, xy: np.ndarray, sides: list[np.ndarray], reverse: np.ndarray, model: MotionModel,
                *, velocity_std: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Filtered state at the inner end of many runs of one track's detections, in one filter pass.

    Parameters
    ----------
    frame, xy : ndarray
        Detections.
    sides : list of ndarray of int
        Each run: detection indices in frame order, one detection per frame.
    reverse : ndarray of bool
        Per run: filter backwards (the state at its first detection, velocity in forward time) instead of
        forwards (the state at its last).
    model : MotionModel
        The per-axis model.
    velocity_std : float
        Prior standard deviation of the velocity.

    Returns
    -------
    x : ndarray, shape (S, 2, 2)
        ``[p, v]`` per run and axis.
    P : ndarray, shape (S, 2, 2, 2)
    at_frame : ndarray of int64, shape (S,)
        The frame of each state.
    """
    first = np.array([frame[side[0]] for side in sides])
    last = np.array([frame[side[-1]] for side in sides])
    lengths = last - first + 1
    order = np.argsort(-lengths, kind="stable")
    slot = np.empty(len(sides), dtype=np.int64)
    slot[order] = np.arange(len(sides))
    rows = np.concatenate(sides)
    which = np.repeat(np.arange(len(sides)), [len(side) for side in sides])
    t = np.where(reverse[which], last[which] - frame[rows], frame[rows] - first[which])
    z = np.zeros((int(lengths.max()), len(sides), 2, 1))
    observed = np.zeros(z.shape[:2], dtype=bool)
    z[t, slot[which], :, 0] = xy[rows]
    observed[t, slot[which]] = True
    res = filter_sequences(z, observed, lengths[order], model, velocity_std=velocity_std, store=False)
    x = res["x_last"][slot]
    P = np.broadcast_to(res["P_last"][slot][:, None], (len(sides), 2, 2, 2)).copy()
    x[reverse], P[reverse] = forward_time(x[reverse], P[reverse])
    return x, P, np.where(reverse, first, last)
