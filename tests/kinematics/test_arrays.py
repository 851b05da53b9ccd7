"""kinematics.arrays: the longest stretch a long gap leaves, and trimming tracks to it."""

from __future__ import annotations

import numpy as np

from spermtrack.kinematics.arrays import longest_stretch, prepare_arrays, trim_long_gaps


def test_longest_stretch_splits_only_at_runs_longer_than_the_limit():
    measured = np.array([1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1], bool)
    assert longest_stretch(measured, 2) == (5, 10)          # the 3-row run splits, the 1-row run does not
    assert longest_stretch(measured, 3) == (0, 10)
    assert longest_stretch(np.array([1, 0, 0, 1], bool), 1) == (0, 0)       # a tie: the earliest
    assert longest_stretch(np.array([0, 1, 1, 1, 0, 0], bool), 1) == (1, 3)  # unmeasured ends are cut
    assert longest_stretch(np.zeros(4, bool), 1) == (0, 3)                    # nothing measured: kept whole


def test_trim_long_gaps_touches_only_tracks_with_a_long_run(make_tracks, line):
    table = make_tracks({1: line(40), 2: line(60, start=(100, 300))})
    table = table[~((table["track_id"] == 1) & table["frame"].between(10, 12))]      # 3 missing frames
    table = table[~((table["track_id"] == 2) & table["frame"].between(10, 29))]      # 20 missing frames
    arr = prepare_arrays(table)
    out = trim_long_gaps(arr, 5)
    assert out.layout.lengths.tolist() == [40, 30]                 # track 2: frames 30-59
    assert out.frame[out.layout.starts].tolist() == [0, 30]
    assert out.n_points.tolist() == [37, 30] and out.n_trimmed.tolist() == [0, 10]
    assert out.max_gap.tolist() == [3, 20]                          # still the whole track's longest run
    first = out.layout.starts[1]
    np.testing.assert_array_equal(out.raw[first:first + 30], arr.raw[arr.layout.starts[1] + 30:])
    same = trim_long_gaps(arr, 20)
    np.testing.assert_array_equal(same.frame, arr.frame)
    assert same.n_trimmed.tolist() == [0, 0]
