"""The table contract: bad input is an InputError, every row is kept, the input is never modified."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spermtrack.errors import InputError
from spermtrack.schema import validate_tracks
from spermtrack.tracker import Tracker, get_config, track

COLUMNS = ["frame", "x", "y", "w", "h", "score", "class_id"]


def _dets(n=6):
    return pd.DataFrame({"frame": np.arange(n) // 2, "x": 10.0 + np.arange(n), "y": 20.0, "w": 15.0, "h": 15.0,
                         "score": 0.9, "class_id": 0})


@pytest.mark.parametrize("column, value, pattern", [
    ("x", np.nan, "'x'.*row 3"), ("w", -1.0, "'w'.*row 3"), ("score", 1.5, "'score'"),
    ("frame", -2, "'frame'"), ("y", np.inf, "'y'"), ("frame", 1.5, "'frame'"),
])
def test_bad_values_are_input_errors_naming_column_and_row(column, value, pattern):
    dets = _dets()
    dets[column] = dets[column].astype(float)
    dets.loc[3, column] = value
    with pytest.raises(InputError, match=pattern):
        track(dets)
    with pytest.raises(InputError, match=f"'{column}'.*index 3"):
        Tracker().update(dets.loc[[3]])


@pytest.mark.parametrize("bad", [pd.DataFrame(), None, [1, 2], _dets().drop(columns=["score"])])
def test_missing_table_or_columns_are_input_errors(bad):
    with pytest.raises(InputError):
        track(bad)
    with pytest.raises(InputError):
        Tracker().update(bad)


def test_streaming_refuses_several_frames_and_going_back():
    tracker = Tracker()
    with pytest.raises(InputError, match="one frame at a time"):
        tracker.update(_dets())
    tracker.update(_dets().iloc[2:4])
    with pytest.raises(InputError, match="does not come after"):
        tracker.update(_dets().iloc[0:2])
    with pytest.raises(InputError, match="frame=5"):
        tracker.update(_dets().iloc[4:6], frame=5)
    with pytest.raises(InputError, match="frame"):
        tracker.update(_dets().iloc[:0], frame=-1)
    tracker.reset()
    tracker.update(_dets().iloc[0:2])  # fine again after reset


def test_numeric_strings_are_accepted_like_the_schema_does():
    dets = _dets().astype({"x": str})
    out = track(dets)
    assert out["x"].dtype == np.float64
    assert len(out) == len(dets)


def test_unsorted_frames_come_back_in_input_order_with_index_and_extra_columns(walkers):
    dets = walkers([(20.0, 30.0, 2.0, 1.0), (200.0, 100.0, -1.0, 2.0)], 25)
    dets["note"] = [f"row{i}" for i in range(len(dets))]
    dets.index = np.arange(len(dets))[::-1] * 10
    shuffled = dets.sample(frac=1.0, random_state=0)
    before = shuffled.copy()
    out = track(shuffled, interpolate=False)
    pd.testing.assert_frame_equal(shuffled, before)  # input untouched
    assert list(out.index) == list(shuffled.index)
    assert (out["note"] == shuffled["note"]).all() and (out["gt"] == shuffled["gt"]).all()
    validate_tracks(out)


def test_output_columns_replace_existing_ones(walkers):
    dets = walkers([(20.0, 30.0, 2.0, 1.0)], 10)
    dets["track_id"] = 99
    out = track(dets)
    assert (out["track_id"] == 1).all()
    assert list(out.columns).count("track_id") == 1


_rows = st.lists(
    st.tuples(st.integers(0, 12), st.floats(0, 60), st.floats(0, 60), st.floats(0, 30), st.floats(0, 1),
              st.integers(0, 2)),
    min_size=0, max_size=60)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows, preset=st.sampled_from(["sperm", "sperm_online", "sort", "iou_bytetrack"]))
def test_property_rows_kept_ids_unique_per_frame_input_untouched(rows, preset):
    dets = pd.DataFrame(rows, columns=["frame", "x", "y", "w", "score", "class_id"])
    dets["h"] = dets["w"]
    dets = dets[COLUMNS]
    dets["tag"] = np.arange(len(dets))
    before = dets.copy()
    out = track(dets, preset)
    pd.testing.assert_frame_equal(dets, before)
    original = out.iloc[:len(dets)]
    assert len(original) == len(dets) and list(original.index) == list(dets.index)
    assert (original["tag"].to_numpy() == dets["tag"].to_numpy()).all()
    assert len(out) == len(dets) or ("interpolated" in out and out["interpolated"].iloc[len(dets):].all())
    tracked = out[out["track_id"] >= 0]
    assert not tracked.duplicated(["frame", "track_id"]).any()
    assert (out["confirmed"] == (out["track_id"] >= 0)).all()
    assert ((out["track_id"] >= 1) | (out["track_id"] == -1)).all()
    # streaming gives the online part
    cfg = get_config(preset).online_only()
    batch = track(dets, cfg)
    if len(dets):
        tracker = Tracker(cfg)
        streamed = pd.concat([tracker.update(dets[dets["frame"] == f], frame=f)
                              for f in range(int(dets["frame"].min()), int(dets["frame"].max()) + 1)])
        pd.testing.assert_frame_equal(streamed.sort_index(), batch.sort_index())


def _crossing_with_jitter() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    t = np.arange(40)
    parts = [pd.DataFrame({"frame": t, "x": 100.0 + 6.0 * t, "y": y0 + vy * t, "w": 18.0, "h": 18.0, "score": 0.9,
                           "class_id": 0}) for y0, vy in ((100.0, 3.0), (221.0, -3.0))]
    dets = pd.concat(parts, ignore_index=True)
    dets[["x", "y"]] += rng.normal(0, 0.3, (len(dets), 2))
    return dets


@settings(max_examples=25, deadline=None, database=None)
@given(dx=st.floats(-500, 500), dy=st.floats(-500, 500))
def test_property_translation_does_not_change_ids(dx, dy):
    dets = _crossing_with_jitter()
    moved = dets.assign(x=dets["x"] + dx, y=dets["y"] + dy)
    a = track(dets)
    b = track(moved)
    assert (a["track_id"] == b["track_id"]).all()
