"""Drawing tracks on frames: grade colours, ids, and the mark of a per-sperm disagreement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spermtrack.drawing import GRADE_COLOURS, TrackPainter, disagreeing_tracks, track_grades


def _tracks() -> pd.DataFrame:
    rows = [(f, tid, 40.0 + 30 * tid + f, 40.0, 20.0, 20.0) for tid in (1, 2) for f in range(5)]
    return pd.DataFrame(rows, columns=["frame", "track_id", "x", "y", "w", "h"])


def test_disagreeing_tracks_reads_the_flag_column():
    kin = pd.DataFrame({"track_id": [1, 2, 3], "grade": ["c", "d", None], "grade_disagrees": [True, False, None]})
    assert disagreeing_tracks(kin) == {1}
    assert disagreeing_tracks(kin.drop(columns="grade_disagrees")) == set() and disagreeing_tracks(None) == set()
    assert track_grades(kin) == {1: "c", 2: "d", 3: ""}


def test_a_flagged_track_gets_a_question_mark_and_the_legend_a_line():
    frame = np.zeros((120, 160, 3), np.uint8)
    plain = TrackPainter(_tracks(), {1: "c", 2: "d"}).draw(frame, 4, stamp=False)
    marked = TrackPainter(_tracks(), {1: "c", 2: "d"}, flagged={1}).draw(frame, 4, stamp=False)
    assert not np.array_equal(plain, marked)
    below_legend = (slice(100, 120), slice(0, 160))
    assert np.array_equal(plain[below_legend], marked[below_legend])  # boxes unchanged outside the label rows
    assert (marked == np.array(GRADE_COLOURS["c"], np.uint8)).all(axis=2).any()
