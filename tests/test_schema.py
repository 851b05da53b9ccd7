"""The data contract: Recording and the table validators."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermtrack.errors import InputError
from spermtrack.schema import (DETECTION_COLUMNS, GT_COLUMNS, TRACK_COLUMNS, Recording, empty_detections,
                               empty_tracks, validate_detections, validate_ground_truth, validate_tracks)


def detections(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "frame": list(range(n)), "x": [1.5] * n, "y": [2.5] * n, "w": [3.0] * n, "h": [4.0] * n,
        "score": [0.5] * n, "class_id": [0] * n,
    })


def tracks(n: int = 3) -> pd.DataFrame:
    return detections(n).assign(track_id=[1] * n)


# ------------------------------------------------------------------------------------------- Recording
def test_recording_basics():
    rec = Recording(fps=48.966, um_per_px=0.351, width=640, height=480, n_frames=1469, source="11")
    assert rec.duration_s == pytest.approx(30.0, abs=0.01)
    assert json.loads(json.dumps(rec.to_dict())) == rec.to_dict()
    with pytest.raises(AttributeError):
        rec.fps = 50  # frozen


def test_recording_accepts_numpy_scalars_as_plain_numbers():
    rec = Recording(fps=np.float32(50), um_per_px=np.float64(0.351), width=np.int64(640), height=np.int32(480),
                    n_frames=np.int64(0))
    assert type(rec.fps) is float and type(rec.width) is int and type(rec.n_frames) is int
    json.dumps(rec.to_dict())


@pytest.mark.parametrize("field, value", [
    ("fps", 0), ("fps", -1.0), ("fps", float("nan")), ("fps", float("inf")), ("fps", "50"), ("fps", True),
    ("um_per_px", 0.0), ("width", 0), ("width", 640.0), ("height", True), ("n_frames", -1), ("n_frames", 1.5),
])
def test_recording_rejects(field, value):
    kw = dict(fps=50.0, um_per_px=0.351, width=640, height=480, n_frames=10)
    kw[field] = value
    with pytest.raises(InputError, match=f"Recording.{field}"):
        Recording(**kw)


# ------------------------------------------------------------------------------------------- validators
def test_valid_tables_get_canonical_dtypes_and_keep_extras():
    df = detections().assign(frame=[0.0, 1.0, 2.0], class_id=["0", "1", "2"], note=["a", "b", "c"])
    out = validate_detections(df)
    assert out["frame"].dtype == np.int64 and out["class_id"].tolist() == [0, 1, 2]
    assert out["note"].tolist() == ["a", "b", "c"]
    assert df["frame"].dtype == np.float64                              # input untouched


def test_string_numbers_are_cast():
    df = detections().astype(str)
    out = validate_detections(df)
    assert out["frame"].dtype == np.int64 and out["x"].dtype == np.float64
    out = validate_detections(detections().assign(frame=["0", "1.0", "2"]))   # was a raw ValueError
    assert out["frame"].tolist() == [0, 1, 2]


def test_empty_tables():
    assert list(empty_detections().columns) == list(DETECTION_COLUMNS)
    assert list(empty_tracks().columns) == list(TRACK_COLUMNS)
    validate_tracks(empty_tracks())
    validate_detections(pd.DataFrame({c: pd.Series([], dtype=object) for c in DETECTION_COLUMNS}))


@pytest.mark.parametrize("column, value, message", [
    ("x", np.nan, "column 'x' has a missing or non-numeric value at row 1 (index 1): nan"),
    ("x", np.inf, "column 'x' has a missing or non-numeric value"),
    ("y", "abc", "'abc'"),
    ("frame", 1.5, "column 'frame' must hold integers"),
    ("frame", -1, "column 'frame' must be >= 0"),
    ("w", -0.5, "column 'w' must be >= 0"),
    ("score", 1.01, "column 'score' must be within [0, 1]"),
    ("class_id", -1, "column 'class_id' must be >= 0"),
])
def test_bad_values_name_column_and_row(column, value, message):
    df = detections().astype({column: object})
    df.loc[1, column] = value
    with pytest.raises(InputError) as err:
        validate_detections(df, name="dets.csv")
    assert str(err.value).startswith("dets.csv ")
    assert message in str(err.value)
    assert err.value.row == 1 and err.value.column == column


def test_row_and_index_in_messages():
    df = detections().set_index(pd.Index([10, 20, 30]))
    df.loc[30, "h"] = -1.0
    with pytest.raises(InputError, match=r"row 2 \(index 30\)"):
        validate_detections(df)


def test_nullable_and_boolean_columns():
    df = detections().astype({"x": "Float64", "frame": "Int64"})
    assert validate_detections(df)["frame"].dtype == np.int64
    df.loc[2, "x"] = pd.NA
    with pytest.raises(InputError, match="'x' has a missing"):
        validate_detections(df)
    with pytest.raises(InputError, match="'class_id' must be numeric, not boolean"):
        validate_detections(detections().assign(class_id=[True, False, True]))


def test_missing_and_doubled_columns():
    with pytest.raises(InputError, match="missing column\\(s\\) score, class_id"):
        validate_detections(detections().drop(columns=["score", "class_id"]))
    with pytest.raises(InputError, match="missing column\\(s\\) track_id"):
        validate_tracks(detections())
    doubled = pd.concat([detections(), detections()[["x"]]], axis=1)
    with pytest.raises(InputError, match="column\\(s\\) x more than once"):
        validate_detections(doubled)
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        validate_detections([1, 2, 3])


def test_duplicate_track_in_frame():
    df = tracks().assign(frame=[0, 1, 1])
    with pytest.raises(InputError, match="track_id 1 twice in frame 1") as err:
        validate_tracks(df)
    assert err.value.row == 2
    validate_tracks(df.assign(track_id=[1, 1, 2]))


def test_untracked_rows_may_share_a_frame():
    df = tracks().assign(frame=[0, 1, 1], track_id=[1, -1, -1])
    assert len(validate_tracks(df)) == 3


def test_ground_truth_ids():
    gt = tracks().assign(gt_id=[7, 7, 7])
    out = validate_ground_truth(gt)
    assert out["gt_id"].tolist() == ["7", "7", "7"]
    assert list(out.columns) == list(GT_COLUMNS)
    with pytest.raises(InputError, match="'gt_id' has a missing value at row 1"):
        validate_ground_truth(tracks().assign(gt_id=["a", None, "a"]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4),
                          st.floats(0, 1e3), st.floats(0, 1e3), st.floats(0, 1), st.integers(0, 2)),
                min_size=0, max_size=30))
def test_validation_is_idempotent(rows):
    df = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    once = validate_detections(df)
    pd.testing.assert_frame_equal(validate_detections(once), once)
    np.testing.assert_array_equal(once["x"].to_numpy(), df["x"].to_numpy(dtype=float))
