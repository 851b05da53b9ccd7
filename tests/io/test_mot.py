"""MOTChallenge text: 1-based frames and top-left boxes on disk, 0-based frames and centres in memory."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import motmetrics
import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.io.mot import format_mot, read_mot, write_mot
from spermtrack.schema import DETECTION_COLUMNS, TRACK_COLUMNS, validate_detections, validate_tracks

TUD_GT = Path(os.path.dirname(motmetrics.__file__)) / "data" / "TUD-Campus" / "gt.txt"


def random_tracks(seed: int = 0, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = np.repeat(np.arange(n // 4), 4)
    return pd.DataFrame({
        "frame": frame,
        "x": rng.uniform(0, 640, n),
        "y": rng.uniform(0, 480, n),
        "w": rng.uniform(5, 30, n),
        "h": rng.uniform(5, 30, n),
        "score": rng.uniform(0, 1, n),
        "class_id": np.zeros(n, dtype=np.int64),
        "track_id": np.tile([3, 1, 7, 100000], n // 4),
    })


def test_conversion_of_one_line(tmp_path):
    path = tmp_path / "res.txt"
    path.write_text("1,5,10,20,4,6,0.9,-1,-1,-1\n3,5,10.5,20.25,4,6,0.8,-1,-1,-1\n")
    table = read_mot(path)
    assert table["frame"].tolist() == [0, 2]                           # 1-based -> 0-based
    assert table[["x", "y"]].to_numpy().tolist() == [[12.0, 23.0], [12.5, 23.25]]   # top-left -> centre
    assert table["track_id"].tolist() == [5, 5] and table["class_id"].tolist() == [0, 0]
    assert table["score"].tolist() == [0.9, 0.8] and table["conf"].tolist() == [0.9, 0.8]
    write_mot(path, table)
    assert path.read_text() == "1,5,10,20,4,6,0.9,-1,-1,-1\n3,5,10.5,20.25,4,6,0.8,-1,-1,-1\n"


def test_tracks_round_trip(tmp_path):
    tracks = random_tracks()
    path = write_mot(tmp_path / "res.txt", tracks)
    back = read_mot(path, kind="result")
    assert list(back.columns) == list(TRACK_COLUMNS) + ["conf"]
    for col in ("frame", "track_id", "class_id", "w", "h", "score"):
        np.testing.assert_array_equal(back[col], tracks[col])          # exact
    np.testing.assert_allclose(back[["x", "y"]], tracks[["x", "y"]], rtol=0, atol=1e-9)
    assert read_mot(path)["track_id"].tolist() == tracks["track_id"].tolist()   # auto -> tracks
    # writing what was read reproduces the file byte for byte
    again = write_mot(tmp_path / "again.txt", back)
    assert again.read_text() == path.read_text()


def test_detections_round_trip(tmp_path):
    det = random_tracks(1).drop(columns="track_id")
    path = write_mot(tmp_path / "det.txt", det)
    assert all(line.split(",")[1] == "-1" for line in path.read_text().splitlines())
    back = read_mot(path)                                              # all ids -1 -> detections
    assert list(back.columns) == list(DETECTION_COLUMNS) + ["conf"]
    np.testing.assert_array_equal(back["frame"], det["frame"])
    np.testing.assert_array_equal(back["score"], det["score"])
    np.testing.assert_allclose(back[["x", "y", "w", "h"]], det[["x", "y", "w", "h"]], rtol=0, atol=1e-9)
    assert read_mot(path, kind="det")["frame"].tolist() == det["frame"].tolist()


def test_gt_round_trip_keeps_mot_fields(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,100,50,20,40,1,1,0.75\n1,2,10,5,2,4,0,7,0.1\n2,1,101,50,20,40,1,1,1\n")
    gt = read_mot(path)
    assert gt["consider"].tolist() == [1, 0, 1]
    assert gt["mot_class"].tolist() == [1, 7, 1]
    assert gt["visibility"].tolist() == [0.75, 0.1, 1.0]
    assert (gt["score"] == 1.0).all()
    out = write_mot(tmp_path / "out" / "gt.txt", gt)
    assert out.read_text() == path.read_text()


def test_scores_outside_unit_interval(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text("1,-1,0,0,10,10,1.7,-1,-1,-1\n1,-1,5,5,10,10,-0.4,-1,-1,-1\n1,-1,9,9,10,10,0.3,-1,-1,-1\n")
    det = read_mot(path)
    assert det["conf"].tolist() == [1.7, -0.4, 0.3]                    # raw value kept for ranking
    assert det["score"].tolist() == [1.0, 0.0, 0.3]                    # clipped into the contract's [0, 1]
    write_mot(path, det)
    assert read_mot(path)["conf"].tolist() == [1.7, -0.4, 0.3]         # conf, not the clipped score, is written


def test_short_lines_and_whitespace(tmp_path):
    path = tmp_path / "res.txt"
    path.write_text("\ufeff1, 2, 10, 20, 4, 6\n\n2 2 11 20 4 6 0.5\n")
    table = read_mot(path)
    assert table["track_id"].tolist() == [2, 2] and table["score"].tolist() == [1.0, 0.5]


@pytest.mark.parametrize("bad, message", [
    ("2,1,1,1,1", "expected 6 to 10"),
    ("2,1,1,1,1,1,1,1,1,1,1", "expected 6 to 10"),
    ("2,1,a,1,1,1,1,-1,-1,-1", "'a' is not a number"),
    ("2,1,nan,1,1,1,1,-1,-1,-1", "must be finite"),
    ("0,1,1,1,1,1,1,-1,-1,-1", "1-based"),
    ("2.5,1,1,1,1,1,1,-1,-1,-1", "1-based"),
    ("2,1,1,1,-1,1,1,-1,-1,-1", "w and h must be >= 0"),
    ("2,-1,1,1,1,1,1,-1,-1,-1", "id must be an integer >= 0"),
    ("1,1,5,5,1,1,1,-1,-1,-1", "id 1 occurs twice in frame 1"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad, message):
    path = tmp_path / "res.txt"
    path.write_text(f"1,1,1,1,1,1,1,-1,-1,-1\n{bad}\n")
    with pytest.raises(InputError) as err:
        read_mot(path, kind="result")
    assert err.value.path == str(path) and err.value.line == 2, str(err.value)
    assert message in str(err.value)


def test_reader_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_mot(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="kind must be one of"):
        read_mot(tmp_path / "missing.txt", kind="tracks")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert read_mot(empty).empty


def test_writer_validates(tmp_path):
    tracks = random_tracks()
    tracks.loc[3, "frame"] = -1
    with pytest.raises(InputError, match="frame"):
        write_mot(tmp_path / "res.txt", tracks)
    assert not (tmp_path / "res.txt").exists()


def test_tud_campus_public_detections(reference):
    TUD_DET = reference / "mot" / "TUD-Campus.det.txt"
    det = read_mot(TUD_DET)
    validate_detections(det)
    assert det["frame"].nunique() == 71 and (det["frame"].min(), det["frame"].max()) == (0, 70)
    assert len(det) == sum(1 for line in TUD_DET.read_text().splitlines() if line.strip())
    first = TUD_DET.read_text().splitlines()[0].split(",")               # 1,-1,281.931,187.466,79.93,209.537,...
    assert det["x"].iloc[0] == pytest.approx(float(first[2]) + float(first[4]) / 2)
    assert det["y"].iloc[0] == pytest.approx(float(first[3]) + float(first[5]) / 2)
    assert (det["score"] == det["conf"]).all()                          # these scores already lie in [0, 1]


def test_motmetrics_bundled_ground_truth():
    gt = read_mot(TUD_GT)                                               # named gt.txt -> 'gt'
    validate_tracks(gt)
    assert {"consider", "mot_class", "visibility"} <= set(gt.columns)
    assert gt["frame"].min() == 0 and gt["track_id"].min() >= 1
    with warnings.catch_warnings():                                      # motmetrics' loader warns on pandas 3
        warnings.simplefilter("ignore")
        ref = motmetrics.io.loadtxt(str(TUD_GT), fmt="mot15-2D").reset_index()
    assert len(ref) == len(gt)
    # motmetrics subtracts 1 from X and Y (1-based pixels); spermtrack keeps the pixel values as written
    np.testing.assert_allclose(gt["x"] - gt["w"] / 2, ref["X"] + 1)
    np.testing.assert_allclose(gt["y"] - gt["h"] / 2, ref["Y"] + 1)
    np.testing.assert_array_equal(gt["frame"] + 1, ref["FrameId"])
    np.testing.assert_array_equal(gt["track_id"], ref["Id"])


def test_format_mot_text():
    det = pd.DataFrame({"frame": [0], "x": [10.0], "y": [20.0], "w": [4.0], "h": [2.5], "score": [0.5],
                        "class_id": [0]})
    assert format_mot(det) == "1,-1,8,18.75,4,2.5,0.5,-1,-1,-1\n"


def test_mot15_ground_truth_has_no_class_column():
    """MOT15 gt lines have 10 fields whose 8th-10th are world coordinates, not class and visibility."""
    gt = read_mot(Path(os.path.dirname(motmetrics.__file__)) / "data" / "TUD-Stadtmitte" / "gt.txt")
    assert (gt["mot_class"] == -1).all() and (gt["visibility"] == -1).all() and (gt["consider"] == 1).all()


def test_mot17_ground_truth_keeps_class_and_visibility(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,10,20,30,40,1,1,0.5\n1,2,10,20,30,40,0,7,1.0\n")
    gt = read_mot(path)
    assert gt["mot_class"].tolist() == [1, 7] and gt["visibility"].tolist() == [0.5, 1.0]
    assert gt["consider"].tolist() == [1, 0]
