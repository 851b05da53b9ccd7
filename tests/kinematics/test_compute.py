"""compute_kinematics / analyze_tracks: agreement with the reference functions, documented edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.kinematics import (EXTRA_COLUMNS, KINEMATICS_COLUMNS, analyze_tracks, compute_kinematics,
                                   get_preset, grade_table, measured_rows)
from spermtrack.kinematics import trajectory as T

FPS, S = 50.0, 0.351
RAW = get_preset("who2021", positions="raw", drift_compensation=False)


def _random_walkers(rng, n_tracks=12, n=80):
    paths = {}
    for k in range(n_tracks):
        steps = rng.normal(0, 1.5, (n + k, 2)) + rng.normal(0, 1.0, 2)
        paths[k + 1] = np.cumsum(steps, axis=0) + rng.uniform(50, 500, 2)
    return paths


def test_columns_follow_the_data_contract(make_tracks, line):
    kin = compute_kinematics(make_tracks({7: line(60)}), S, FPS)
    assert tuple(kin.columns) == KINEMATICS_COLUMNS + EXTRA_COLUMNS
    assert kin["track_id"].tolist() == [7]


def test_vectorised_engine_equals_the_reference_functions(make_tracks, rng):
    paths = _random_walkers(rng)
    kin = compute_kinematics(make_tracks(paths), S, FPS, RAW.replace(alh_factor=1)).set_index("track_id")
    for tid, xy in paths.items():
        row = kin.loc[tid]
        assert row["vcl_um_s"] == pytest.approx(T.curvilinear_velocity(xy, fps=FPS, um_per_px=S))
        assert row["vsl_um_s"] == pytest.approx(T.straight_line_velocity(xy, fps=FPS, um_per_px=S))
        assert row["vap_um_s"] == pytest.approx(T.average_path_velocity(xy, fps=FPS, um_per_px=S))
        assert (row["alh_mean_um"], row["alh_max_um"]) == pytest.approx(
            T.lateral_head_displacement(xy, um_per_px=S, factor=1))
        assert row["bcf_hz"] == pytest.approx(T.beat_cross_frequency(xy, fps=FPS))
        assert row["mad_deg"] == pytest.approx(T.mean_angular_displacement(xy))
        assert row["progression_um_s"] == pytest.approx(T.net_progression(xy, fps=FPS, um_per_px=S))
        assert row["duration_s"] == pytest.approx((len(xy) - 1) / FPS)


def test_engine_equals_reference_with_interpolated_points(make_tracks, rng):
    paths = _random_walkers(rng, n_tracks=4)
    table = make_tracks(paths)
    flags = rng.random(len(table)) < 0.1
    first = table.groupby("track_id").cumcount() == 0
    last = table.groupby("track_id").cumcount(ascending=False) == 0
    table["interpolated"] = flags & ~first.to_numpy() & ~last.to_numpy()
    kin = compute_kinematics(table, S, FPS, RAW.replace(alh_factor=1, max_gap_s=10.0)).set_index("track_id")
    for tid, xy in paths.items():
        m = ~table.loc[table["track_id"] == tid, "interpolated"].to_numpy()
        row = kin.loc[tid]
        assert row["vcl_um_s"] == pytest.approx(T.curvilinear_velocity(xy, fps=FPS, um_per_px=S, measured=m))
        assert row["bcf_hz"] == pytest.approx(T.beat_cross_frequency(xy, fps=FPS, measured=m))
        assert row["mad_deg"] == pytest.approx(T.mean_angular_displacement(xy, measured=m))
        assert row["vap_um_s"] == pytest.approx(T.average_path_velocity(xy, fps=FPS, um_per_px=S))
        assert row["n_measured"] == m.sum()


def test_row_order_does_not_matter(make_tracks, rng):
    table = make_tracks(_random_walkers(rng, n_tracks=5))
    a = compute_kinematics(table, S, FPS)
    b = compute_kinematics(table.sample(frac=1.0, random_state=1), S, FPS)
    pd.testing.assert_frame_equal(a, b)


def test_input_table_is_not_modified(make_tracks, rng):
    table = make_tracks(_random_walkers(rng, n_tracks=3))
    before = table.copy()
    analyze_tracks(table, S, FPS)
    pd.testing.assert_frame_equal(table, before)


def test_immotile_head_with_jitter_is_d_not_c(make_tracks, rng):
    # five still heads with 0.5 px detector jitter: raw VCL reads about 15 um/s
    paths = {k: np.array([100.0 * k, 200.0]) + rng.normal(0, 0.5, (250, 2)) for k in range(1, 6)}
    result = analyze_tracks(make_tracks(paths), S, FPS)
    kin = result.table
    assert (kin["grade"] == "d").all()
    assert result.noise["sigma_px"] == pytest.approx(0.5, rel=0.15)
    raw = compute_kinematics(make_tracks(paths), S, FPS, get_preset(positions="raw", noise_px=0.0))
    assert (raw["vcl_um_s"] > 10).all() and (raw["grade"] == "c").all()    # without noise handling: "motile"


def test_head_beating_in_place_is_c(make_tracks, rng):
    t = np.arange(250) / FPS
    still = {k: np.array([100.0 * k, 100.0]) + rng.normal(0, 0.5, (250, 2)) for k in range(1, 5)}
    beat = np.c_[300 + 0.5 / S * np.sin(2 * np.pi * 8 * t), 300 + 0 * t] + rng.normal(0, 0.5, (250, 2))
    kin = compute_kinematics(make_tracks({**still, 9: beat}), S, FPS).set_index("track_id")
    assert kin.loc[9, "grade"] == "c"
    assert (kin.drop(9)["grade"] == "d").all()


def test_who_grades_from_net_progression(make_tracks, line):
    # 0.8 px/frame = 14 um/s (b); 2 px/frame = 35 um/s (a); offsets keep the tracks apart
    paths = {1: line(100, speed_px=2.0), 2: line(100, speed_px=0.8, start=(100, 300)),
             3: np.full((100, 2), 400.0)}
    kin = compute_kinematics(make_tracks(paths), S, FPS, get_preset(drift_compensation=False)).set_index("track_id")
    assert kin["grade"].to_dict() == {1: "a", 2: "b", 3: "d"}
    assert kin.loc[1, "progression_um_s"] == pytest.approx(2.0 * S * FPS)


def test_short_and_one_point_tracks_are_ungraded_not_guessed(make_tracks, line):
    kin = compute_kinematics(make_tracks({1: line(30), 2: line(1), 3: line(100)}), S, FPS).set_index("track_id")
    assert kin.loc[1, "ungraded_reason"] == "too_short" and kin.loc[1, "grade"] is None
    assert kin.loc[1, "vcl_um_s"] > 0 and math.isnan(kin.loc[1, "progression_um_s"])
    assert kin.loc[2, "ungraded_reason"] == "too_short"
    assert kin.loc[2, ["vcl_um_s", "vsl_um_s", "vap_um_s", "alh_mean_um", "bcf_hz"]].isna().all()
    assert kin.loc[3, "graded"] and not kin.loc[1, "graded"]


def test_gaps_short_bridged_long_ungraded(make_tracks, line):
    table = make_tracks({1: line(120), 2: line(120, start=(100, 300))})
    table = table[~((table["track_id"] == 1) & table["frame"].between(50, 53))]     # 4 missing frames
    table = table[~((table["track_id"] == 2) & table["frame"].between(50, 79))]     # 30 missing frames (0.6 s)
    kin = compute_kinematics(table, S, FPS).set_index("track_id")
    assert kin.loc[1, "graded"] and kin.loc[1, "max_gap_s"] == pytest.approx(4 / FPS)
    assert kin.loc[1, "vcl_um_s"] == pytest.approx(2.0 * S * FPS)       # bridged steps left out of VCL
    assert kin.loc[1, "n_points"] == 116 and kin.loc[1, "n_trimmed"] == 0
    # both sides of the 0.6-s gap are shorter than 1 s: measured on the longer one, ungraded
    assert kin.loc[2, "ungraded_reason"] == "gap" and kin.loc[2, "grade"] is None
    assert (kin.loc[2, "first_frame"], kin.loc[2, "last_frame"], kin.loc[2, "n_trimmed"]) == (0, 49, 40)
    assert kin.loc[2, "max_gap_s"] == pytest.approx(30 / FPS)


def test_a_long_gap_keeps_the_longest_stretch_measured_as_if_alone(make_tracks, line):
    path = line(200, start=(100, 300))
    table = make_tracks({3: path})
    table = table[~table["frame"].between(20, 49)]                                 # 30 missing frames
    alone = make_tracks({3: path[50:]}, first_frame={3: 50})
    config = get_preset("who2021", drift_compensation=False)
    kin = compute_kinematics(table, S, FPS, config).set_index("track_id")
    ref = compute_kinematics(alone, S, FPS, config).set_index("track_id")
    assert kin.loc[3, "graded"] and kin.loc[3, "grade"] == ref.loc[3, "grade"]
    assert (kin.loc[3, "first_frame"], kin.loc[3, "last_frame"], kin.loc[3, "n_points"]) == (50, 199, 150)
    assert kin.loc[3, "n_trimmed"] == 20 and kin.loc[3, "max_gap_s"] == pytest.approx(30 / FPS)
    for column in ("vcl_um_s", "vsl_um_s", "vap_um_s", "progression_um_s", "duration_s"):
        assert kin.loc[3, column] == pytest.approx(ref.loc[3, column])
    # the rows cut off still count as sperm seen (concentration), nothing is dropped silently
    assert analyze_tracks(table, S, FPS, config).n_sperm_rows == len(table)


def test_a_track_never_measured_is_not_graded_on_bridged_positions(make_tracks, line):
    table = make_tracks({4: line(120)}, interpolated=True)
    for config in (get_preset("who2021"), get_preset("who2021", max_gap_s=5.0)):   # a long run, or none
        kin = compute_kinematics(table, S, FPS, config).set_index("track_id")
        assert kin.loc[4, "ungraded_reason"] == "gap" and kin.loc[4, "grade"] is None


def test_regrading_decides_gap_and_too_short_under_the_new_config(make_tracks, line):
    table = make_tracks({5: line(200), 6: line(75, start=(100, 300))})
    table = table[~((table["track_id"] == 5) & table["frame"].between(75, 199 - 75))]   # 75 + 50-frame gap + 75
    strict = analyze_tracks(table, S, FPS, get_preset("who2021", min_duration_s=2.0, drift_compensation=False))
    assert strict.table.set_index("track_id")["ungraded_reason"].to_dict() == {5: "gap", 6: "too_short"}
    regraded = grade_table(strict.table, get_preset("who2021")).set_index("track_id")
    assert regraded["graded"].all() and regraded.loc[5, "grade"] == regraded.loc[6, "grade"] == "a"


def test_measured_rows_are_each_tracks_kept_stretch(make_tracks, line):
    table = make_tracks({7: line(150), 8: line(60, start=(100, 300))})
    table = table[~((table["track_id"] == 7) & table["frame"].between(50, 79))]
    kin = compute_kinematics(table, S, FPS)
    rows = measured_rows(table, kin)
    assert rows[rows["track_id"] == 7]["frame"].tolist() == list(range(80, 150))
    assert rows[rows["track_id"] == 8]["frame"].tolist() == list(range(60))
    assert measured_rows(table, kin[kin["track_id"] == 8])["track_id"].unique().tolist() == [8]


def test_unconfirmed_rows_and_other_classes(make_tracks, line):
    table = make_tracks({1: line(80), 2: line(80, start=(50, 400))})
    table.loc[table["track_id"] == 2, "class_id"] = 1                 # a cluster
    extra = make_tracks({-1: line(80, start=(300, 300))})             # rows in no confirmed track,
    extra = pd.concat([extra, extra.assign(x=extra["x"] + 50)], ignore_index=True)   # two per frame
    extra["confirmed"] = False
    table["confirmed"] = True
    result = analyze_tracks(pd.concat([table, extra], ignore_index=True), S, FPS)
    kin = result.table.set_index("track_id")
    assert sorted(kin.index) == [1, 2] and result.n_rows_dropped == 160
    assert kin.loc[2, "ungraded_reason"] == "class"


def test_tracker_columns_are_used_for_the_average_path(make_tracks, line):
    xy = line(100, speed_px=1.0)
    table = make_tracks({1: xy})
    table["x_s"] = table["x"] + 0.0
    table["y_s"] = table["y"] + 0.0
    table.loc[:, "x"] += np.where(np.arange(100) % 2, 0.3, -0.3)      # jitter on the measured positions only
    res = analyze_tracks(table, S, FPS, get_preset(drift_compensation=False))
    assert res.positions == "tracker"
    assert res.table.loc[0, "vsl_um_s"] == pytest.approx(S * FPS)
    assert res.table.loc[0, "vap_um_s"] == pytest.approx(S * FPS)
    own = analyze_tracks(table, S, FPS, get_preset(drift_compensation=False, positions="own"))
    assert own.positions == "own"
    with pytest.raises(InputError, match="x_s"):
        analyze_tracks(make_tracks({1: xy}), S, FPS, get_preset(positions="tracker"))


def test_empty_table_gives_empty_result(make_tracks):
    result = analyze_tracks(make_tracks({}), S, FPS)
    assert len(result.table) == 0 and tuple(result.table.columns) == KINEMATICS_COLUMNS + EXTRA_COLUMNS


@pytest.mark.parametrize("um_per_px, fps", [(None, FPS), (S, None), (0.0, FPS), (S, 0), (-1.0, FPS), (S, -50.0),
                                            (float("nan"), FPS), (S, float("inf")), ("0.35", FPS), (True, FPS)])
def test_missing_zero_or_negative_calibration_is_an_input_error(make_tracks, line, um_per_px, fps):
    with pytest.raises(InputError, match="um_per_px|fps"):
        compute_kinematics(make_tracks({1: line(60)}), um_per_px, fps)


def test_nan_position_is_an_input_error(make_tracks, line):
    table = make_tracks({1: line(60)})
    table.loc[5, "x"] = np.nan
    with pytest.raises(InputError, match="'x'"):
        compute_kinematics(table, S, FPS)


def test_nan_smoothed_position_is_an_input_error(make_tracks, line):
    table = make_tracks({1: line(60)}, x_s=1.0, y_s=1.0)
    table.loc[3, "y_s"] = np.nan
    with pytest.raises(InputError, match="y_s"):
        compute_kinematics(table, S, FPS)


def test_duplicate_frame_within_a_track_is_an_input_error(make_tracks, line):
    table = make_tracks({1: line(60)})
    table = pd.concat([table, table.iloc[[10]]], ignore_index=True)
    with pytest.raises(InputError, match="twice"):
        compute_kinematics(table, S, FPS)


def test_missing_column_and_bad_flag_are_input_errors(make_tracks, line):
    with pytest.raises(InputError, match="track_id"):
        compute_kinematics(make_tracks({1: line(60)}).drop(columns="track_id"), S, FPS)
    with pytest.raises(InputError, match="interpolated"):
        compute_kinematics(make_tracks({1: line(60)}, interpolated="maybe"), S, FPS)


def test_drift_compensation_removes_a_common_flow(make_tracks, rng):
    # 8 immotile cells and 2 swimmers, all carried by a flow of 1 px/frame (17.6 um/s) along x
    n = 150
    flow = np.c_[np.arange(n) * 1.0, np.zeros(n)]
    paths = {k: np.array([40.0 * k, 100.0 + 10 * k]) + flow + rng.normal(0, 0.2, (n, 2)) for k in range(1, 9)}
    paths[20] = np.array([50.0, 400.0]) + flow + np.c_[np.zeros(n), 2.0 * np.arange(n)]
    paths[21] = np.array([300.0, 450.0]) + flow + np.c_[np.zeros(n), -1.5 * np.arange(n)]
    on = compute_kinematics(make_tracks(paths), S, FPS).set_index("track_id")
    off = compute_kinematics(make_tracks(paths), S, FPS, get_preset(drift_compensation=False)).set_index("track_id")
    assert (off.loc[1:8, "grade"] == "b").all()                 # carried by the flow: "progressive"
    assert (on.loc[1:8, "grade"] == "d").all()
    assert on.loc[20, "progression_um_s"] == pytest.approx(2.0 * S * FPS, rel=0.02)
    assert on.loc[21, "progression_um_s"] == pytest.approx(1.5 * S * FPS, rel=0.02)
