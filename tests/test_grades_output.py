"""Every percentage comes with its uncertainty, and no result is a silent blank (issue 18).

The 95 % Wilson interval of each category and the WHO reference-limit verdicts ("uncertain" when the interval
straddles the limit) reach summary.json, summary.csv, report.html and the closing line; results that should not be
read at face value carry a plain warning with its likely cause; one class filter (the preset's) decides what is
graded in every command.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spermtrack.cli import main
from spermtrack.kinematics.summary import reference_verdict, wilson_interval
from spermtrack.pipeline import quality_notes
from spermtrack.schema import Recording


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("grades") / "data"
    assert main(["synth", str(root), "--videos", "2", "--seconds", "2", "--fps", "25", "--seed", "4", "--density", "12",
                 "--width", "240", "--height", "180", "--no-images", "--quiet"]) == 0
    return root


def test_wilson_intervals_of_known_proportions():
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-9) and high == pytest.approx(27.75, abs=0.01)
    assert wilson_interval(5, 10) == pytest.approx((23.66, 76.34), abs=0.01)
    assert wilson_interval(3, 0) is None
    for k, n in ((1, 3), (20, 73), (199, 200)):  # always inside [0, 100] and around the estimate
        low, high = wilson_interval(k, n)
        assert 0 <= low <= 100 * k / n <= high <= 100


@pytest.mark.parametrize("value, k, n, verdict", [
    (100.0, 3, 3, "uncertain"),       # three graded tracks, all progressive: too few to say "met"
    (36.8, 32, 87, "uncertain"),      # the interval 27-47 holds the 30 % limit
    (27.4, 20, 73, "uncertain"),
    (60.0, 120, 200, "met"),
    (10.0, 20, 200, "not met"),
])
def test_a_reference_limit_inside_the_interval_is_uncertain(value, k, n, verdict):
    assert reference_verdict(value, wilson_interval(k, n), 30.0, n) == verdict
    assert reference_verdict(value, wilson_interval(k, n), 30.0, 19) == "uncertain"  # too few tracks to judge


def test_intervals_reach_every_output(data, tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["analyze", str(data / "1"), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    line = capsys.readouterr().out
    assert "progressive" in line and "] (" in line and "95 % intervals in brackets" in line
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    ci, pct = summary["interval_95"], summary["percent"]
    for key in ("a", "b", "c", "d", "progressive", "non_progressive", "immotile", "motile"):
        assert ci[key][0] <= pct[key] <= ci[key][1]
    assert set(summary["meets_who_reference_limits"].values()) <= {"met", "not met", "uncertain"}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "95 % interval" in page and "WHO 2021 asks for at least 200 spermatozoa" in page
    assert f"{summary['counts']['graded']} were graded here" in page
    archive = tmp_path / "all"
    assert main(["analyze", str(data), "--um-per-px", "0.351", "--out", str(archive), "--quiet", "--no-video"]) == 0
    table = pd.read_csv(archive / "summary.csv", dtype={"video": str})
    assert (table["progressive_ci_low"] <= table["progressive_pct"]).all()
    assert (table["progressive_pct"] <= table["progressive_ci_high"]).all()


def test_few_tracks_are_a_warning_everywhere(data, tmp_path, capsys):
    out = tmp_path / "all"
    assert main(["analyze", str(data), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    table = pd.read_csv(out / "summary.csv", dtype={"video": str})
    assert table["notes"].str.contains("could be graded").all()  # 2-s clips: fewer than 20 graded tracks
    summary = json.loads((out / "1" / "summary.json").read_text(encoding="utf-8"))
    assert any("could be graded" in n for n in summary["notes"])
    assert "could be graded" in (out / "1" / "report.html").read_text(encoding="utf-8")


def _tables(n_dets: int, n_frames: int, tracked: bool):
    rng = np.random.default_rng(0)
    dets = pd.DataFrame({"frame": rng.integers(0, n_frames, n_dets), "x": 100.0, "y": 100.0, "w": 8.0, "h": 8.0,
                         "score": 0.9, "class_id": 0})
    tracks = dets.assign(track_id=np.where(tracked, 1, -1))
    return dets, tracks


@pytest.mark.parametrize("n_dets, tracked, graded, expected", [
    (0, True, 0, ["found no object"]),
    (20, True, 25, ["implausibly few detections: 0.20 per frame in a 640 x 480 px video"]),
    (3000, False, 25, ["most detections never became a track (0% did)"]),
    (3000, True, 7, ["only 7 track(s) could be graded"]),
    (3000, True, 30, []),
])
def test_results_that_should_not_be_read_at_face_value_say_why(n_dets, tracked, graded, expected):
    dets, tracks = _tables(n_dets, 100, tracked)
    rec = Recording(fps=50.0, um_per_px=0.351, width=640, height=480, n_frames=100, source="x")
    notes = quality_notes(dets, tracks, {"counts": {"graded": graded}}, rec, "blob")
    assert len(notes) == len(expected) and all(e in n for e, n in zip(expected, notes)), notes
    if n_dets == 20:
        assert "--polarity dark" in notes[0] and "--um-per-px" in notes[0]


def test_one_class_filter_in_analyze_and_kinematics(data, tmp_path, capsys):
    """The preset's class_ids decide what is graded: analyze and kinematics give the same counts."""
    out = tmp_path / "one"
    assert main(["analyze", str(data / "1"), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    assert main(["kinematics", str(out / "tracks.csv"), "--um-per-px", "0.351", "--fps", "25", "--out",
                 str(tmp_path / "kin")]) == 0
    first = json.loads((out / "summary.json").read_text(encoding="utf-8"))["counts"]
    second = json.loads((tmp_path / "kin" / "summary.json").read_text(encoding="utf-8"))["counts"]
    assert first == second
