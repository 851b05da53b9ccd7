"""The trackpy locator as a peer detector behind the detector protocol."""

from __future__ import annotations

import pytest

from spermtrack.detectors import make_detector
from spermtrack.errors import InputError

pytest.importorskip("trackpy")


def test_trackpy_finds_drawn_heads(heads, as_table):
    from spermtrack.eval.detection import detection_prf

    centres = [(40.0, 40.0), (100.0, 70.0), (60.0, 95.0)]
    det = make_detector("trackpy").detect(heads(centres), frame_index=3)
    assert (det["frame"] == 3).all() and (det["class_id"] == 0).all() and det["score"].between(0, 1).all()
    assert detection_prf(as_table(centres), det.assign(frame=0), max_dist=3)["f1"] == 1.0


def test_trackpy_options_are_checked():
    with pytest.raises(InputError, match="diameter must be odd"):
        make_detector("trackpy", diameter=8)
    with pytest.raises(InputError, match="unknown TrackpyConfig setting"):
        make_detector("trackpy", sigma=2)
    det = make_detector("trackpy", minmass=800.0, mass_half=800.0)
    assert det.score_threshold == pytest.approx(0.5)
