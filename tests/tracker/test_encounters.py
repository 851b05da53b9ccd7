"""Encounters: an exchange of ids where two heads meet is undone, a true path is kept."""

import numpy as np

from spermtrack.tracker import encounters
from spermtrack.tracker.config import get_config
from spermtrack.tracker.encounters import (STILL_NOISE_FLOOR, exchanged, motility_scale, resolve_encounters,
                                           still_anchor)


def _two_cells(still_xy, mover_at, frames=80, merge=range(38, 43), merged_to=0):
    """Detections of a still cell (label 0) and a mover at ``mover_at(f)`` (label 1); in ``merge`` frames one
    detection halfway covers both, labelled ``merged_to``."""
    frame, xy, who = [], [], []
    still = np.asarray(still_xy, float)
    for f in range(frames):
        mover = np.asarray(mover_at(f), float)
        if f in merge:
            frame.append(f), xy.append((still + mover) / 2), who.append(merged_to)
            continue
        frame += [f, f]
        xy += [still, mover]
        who += [0, 1]
    return np.array(frame), np.array(xy), np.array(who)


def test_an_exchange_at_a_merge_is_undone_and_a_true_path_is_kept():
    cfg = get_config("sperm")
    frame, xy, who = _two_cells((100, 100), lambda f: (20 + 2.0 * f, 104))  # passes 4 px from the still cell
    truth = np.where(who == 0, 1, 2)
    assert np.array_equal(resolve_encounters(frame, xy, truth, cfg), truth)  # right ids stay
    swapped = truth.copy()
    after = frame > 43  # the encounter (cells within 8 px) ends at frame 43
    swapped[after] = 3 - truth[after]  # ids exchanged by the merge
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg), truth)
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg.replace(encounter_radius=0.0)), swapped)


def _passer_at(f):
    """A slow passer that comes down to 5 px of a still cell at (100, 100) by frame 22, stays there until frame 41,
    then turns back and leaves up and to the right."""
    if f < 22:
        return 100.0, 40.0 + 2.5 * f
    if f < 42:
        return 100.0 + 0.1 * (f - 22), 95.0
    return 102.0 + 1.2 * (f - 41), 95.0 - 0.5 * (f - 41)


def test_a_still_cell_keeps_its_id_when_a_slow_passer_merges_with_it_and_turns_back():
    cfg = get_config("sperm")
    # one detection covers both for 20 frames and goes to the passer's track
    frame, xy, who = _two_cells((100, 100), _passer_at, frames=90, merge=range(22, 42), merged_to=1)
    truth = who + 1
    swapped = truth.copy()
    after = frame >= 42
    swapped[after] = 3 - truth[after]  # the online association left with the ids exchanged
    late = frame > 55  # after the encounter (within 8 px) is over
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg)[late], truth[late])
    assert np.array_equal(resolve_encounters(frame, xy, truth, cfg)[late], truth[late])
    # with one smooth model for every pairing, the turn costs the passer more than the still cell's move
    flat = cfg.replace(encounter_motile_speed=0.0)
    assert np.array_equal(resolve_encounters(frame, xy, swapped, flat), swapped)


def _passer_that_turns_aside(f):
    """A passer that comes down at 1.5 px/frame onto a still cell at (100, 100) by frame 22, stays over it for six
    frames and leaves up and to the right (120 degrees off its course) at 1.2 px/frame."""
    if f < 22:
        return 100.0, 97.0 - 1.5 * (22 - f)
    if f < 28:
        return 100.0, 97.0
    k = f - 27
    return 100.0 + 0.6 * k, 97.0 - 1.04 * k


def test_a_still_cell_keeps_its_id_when_a_passer_merges_with_it_and_turns_aside(monkeypatch):
    cfg = get_config("sperm")
    frame, xy, who = _two_cells((100, 100), _passer_that_turns_aside, frames=90, merge=range(22, 28), merged_to=1)
    truth = who + 1
    swapped = truth.copy()
    after = frame >= 28
    swapped[after] = 3 - truth[after]
    late = frame > 40  # after the encounter (within 8 px)
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg)[late], truth[late])
    assert np.array_equal(resolve_encounters(frame, xy, truth, cfg)[late], truth[late])
    # the turn costs the passer's own continuation more than the exchanged one: only the still cell's fit decides
    monkeypatch.setattr(encounters, "STILL_SPEED_FRACTION", 0.0)
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg)[late], swapped[late])


def test_an_exchange_needs_both_fits_or_the_still_cells_own():
    # each fits the other's continuation better, and the sum by the margin
    assert exchanged(9.0, 9.0, 1.0, 1.0, anchor=-1, margin=4.0)
    # the swimmer's own continuation costs more (it turned): only the still cell's fit can say so
    numbers = (14.4, 7.4, 3.0, 47.4)  # video 11 frame 268, cross-fitted detections (a still, b a passer)
    assert not exchanged(*numbers, anchor=-1, margin=4.0)
    assert exchanged(*numbers, anchor=0, margin=4.0)
    assert not exchanged(*numbers, anchor=1, margin=4.0)  # the passer's own fit says keep
    assert not exchanged(14.4, 7.4, 11.0, 47.4, anchor=0, margin=4.0)  # within the margin


def test_the_still_cell_decides_only_alone_and_only_where_it_stays_still():
    before = np.array([[0.1, 2.0], [2.0, 0.1], [0.1, 0.2], [2.0, 1.5], [0.1, 2.0]])
    swapped = np.array([[0.3, 2.0], [2.0, 0.4], [0.3, 0.3], [2.0, 1.5], [1.6, 2.0]])
    anchor = still_anchor(before, swapped, still_speed=0.5, motile_speed=1.0)
    # a; b; both still: none; neither: none; a would leave swimming (a still cell that starts to swim): none
    assert anchor.tolist() == [0, 1, -1, -1, -1]


def test_motility_scale_follows_the_slower_side():
    scale = motility_scale(np.array([0.0, 2.0, 0.5, 2.0]), np.array([2.0, 3.0, 2.0, 0.1]), 1.0)
    assert np.allclose(scale, [STILL_NOISE_FLOOR, 1.0, 0.25, STILL_NOISE_FLOOR])
    assert motility_scale(np.array([1.0]), np.array([1.0]), 0.0) is None
