"""Encounters: an exchange of ids where two heads meet is undone, a true path is kept."""

import numpy as np

from spermtrack.tracker.config import get_config
from spermtrack.tracker.encounters import resolve_encounters


def _two_cells(still_xy, mover_start, mover_step, frames=80, merge=range(38, 43)):
    """Detections of a still cell and a mover; in ``merge`` frames one detection halfway covers both."""
    frame, xy, who = [], [], []
    for f in range(frames):
        still = np.asarray(still_xy, float)
        mover = np.asarray(mover_start, float) + f * np.asarray(mover_step, float)
        if f in merge:
            frame.append(f), xy.append((still + mover) / 2), who.append(0)
            continue
        frame += [f, f]
        xy += [still, mover]
        who += [0, 1]
    return np.array(frame), np.array(xy), np.array(who)


def test_an_exchange_at_a_merge_is_undone_and_a_true_path_is_kept():
    cfg = get_config("sperm")
    frame, xy, who = _two_cells((100, 100), (20, 104), (2.0, 0.0))  # the mover passes 4 px from the still cell
    truth = np.where(who == 0, 1, 2)
    assert np.array_equal(resolve_encounters(frame, xy, truth, cfg), truth)  # right ids stay
    swapped = truth.copy()
    after = frame > 43  # the encounter (cells within 8 px) ends at frame 43
    swapped[after] = 3 - truth[after]  # ids exchanged by the merge
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg), truth)
    assert np.array_equal(resolve_encounters(frame, xy, swapped, cfg.replace(encounter_radius=0.0)), swapped)
