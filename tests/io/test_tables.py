"""Contract tables as CSV: exact round trip, validation errors with file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.io.tables import read_detections_csv, read_tracks_csv, write_table

HEADER = "frame,x,y,w,h,score,class_id,track_id\n"
ROW = "0,1.5,2.5,3,4,0.9,0,1\n"


def tracks() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 50
    return pd.DataFrame({
        "frame": np.arange(n) // 2,
        "x": rng.uniform(0, 640, n) / 3,
        "y": rng.uniform(0, 480, n) * 1e-7,
        "w": rng.uniform(1, 30, n),
        "h": rng.uniform(1, 30, n),
        "score": rng.uniform(0, 1, n),
        "class_id": rng.integers(0, 3, n),
        "track_id": np.tile([1, 2], n // 2),
        "gt_id": np.tile(["007", "ckz3v9nzv00033867jsekqdcl"], n // 2),
        "x_s": rng.normal(size=n),
        "interpolated": np.tile([False, True], n // 2),
    })


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_round_trip_is_exact(tmp_path, name):
    table = tracks()
    path = write_table(tmp_path / name, table)
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as fh:
            assert fh.readline().startswith("frame,x,y")
    back = read_tracks_csv(path)
    pd.testing.assert_frame_equal(back, table.astype({"gt_id": str}))
    assert back["gt_id"].iloc[0] == "007"                               # not the number 7
    assert [p.name for p in tmp_path.iterdir()] == [name]               # no temporary file left


def test_detections(tmp_path):
    det = tracks().drop(columns=["track_id", "gt_id"])
    back = read_detections_csv(write_table(tmp_path / "d.csv", det))
    pd.testing.assert_frame_equal(back, det)


@pytest.mark.parametrize("body, line, message", [
    (ROW + "1,abc,2,3,4,0.9,0,1\n", 3, "column 'x' has a missing or non-numeric value: 'abc'"),
    (ROW + "1,1,2,3,4,1.5,0,1\n", 3, "column 'score' must be within [0, 1]: 1.5"),
    (ROW + ROW + "1,1,2,3,4,0.5,0,1\n", 3, "track_id 1 occurs twice in frame 0"),
    (ROW + "-1,1,2,3,4,0.5,0,1\n", 3, "frames are 0-based"),
    (ROW + "1.5,1,2,3,4,0.5,0,1\n", 3, "column 'frame' must hold integers"),
    (ROW + "\n" + "1,1,2,3,4,0.5,0,1\n", 3, "missing"),                # a blank line in the middle
    (ROW + "1,1,2,3,4,0.5,0,1,9\n", 3, "Expected 8 fields"),
])
def test_bad_value_names_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "tracks.csv"
    path.write_text(HEADER + body)
    with pytest.raises(InputError) as err:
        read_tracks_csv(path)
    assert err.value.path == str(path) and err.value.line == line, str(err.value)
    assert message in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_missing_column_is_line_1(tmp_path):
    path = tmp_path / "det.csv"
    path.write_text("frame,x,y,w,h,score\n0,1,2,3,4,0.5\n")
    with pytest.raises(InputError) as err:
        read_detections_csv(path)
    assert err.value.line == 1 and "missing column(s) class_id" in str(err.value)
    with pytest.raises(InputError, match=":1: .*missing column\\(s\\) class_id, track_id"):
        read_tracks_csv(path)


def test_missing_gt_id(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("frame,x,y,w,h,score,class_id,track_id,gt_id\n0,1,2,3,4,1,0,1,a\n1,1,2,3,4,1,0,1,\n")
    with pytest.raises(InputError, match="gt.csv:3: column 'gt_id' has a missing value"):
        read_tracks_csv(path)


def test_trailing_blank_lines_are_fine(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + ROW + "\n\n")
    assert len(read_tracks_csv(path)) == 1


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_tracks_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_detections_csv(tmp_path / "empty.csv")
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="bad.csv.gz: cannot be read"):
        read_tracks_csv(tmp_path / "bad.csv.gz")
    with pytest.raises(InputError, match="must end in .csv or .csv.gz"):
        write_table(tmp_path / "t.parquet", tracks())
    with pytest.raises(InputError, match="expected a pandas DataFrame"):
        write_table(tmp_path / "t.csv", [1, 2])


def test_header_only_gives_empty_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER)
    table = read_tracks_csv(path)
    assert table.empty and table["frame"].dtype == np.int64 and table["x"].dtype == np.float64


def test_paths_may_be_str(tmp_path):
    path = str(tmp_path / "t.csv")
    assert write_table(path, tracks()) == Path(path)
    assert len(read_tracks_csv(path)) == 50


def test_atomic_outputs_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from spermtrack.io.atomic import output_folder, write_text

    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        with output_folder(tmp_path / "out") as out:
            write_text(out / "b.txt", "y")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "b.txt").stat().st_mode) == 0o644
