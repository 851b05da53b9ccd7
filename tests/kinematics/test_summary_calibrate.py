"""Sample summary, report files, and the threshold fitting / agreement statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.io.tables import write_kinematics
from spermtrack.kinematics import analyze_tracks, get_preset, motility_percentages, summarize
from spermtrack.kinematics.calibrate import (Fit, _grid_matrix, _Video, agreement, fit_threshold, leave_one_out,
                                             predict_percentages, with_values)


def test_percentages_over_graded_tracks_only():
    table = pd.DataFrame({"grade": ["a", "b", "b", "c", "d", None, None], "n_points": [100, 50, 50, 200, 400, 10, 10]})
    pm = motility_percentages(table)
    assert pm["counts"] == {"a": 1, "b": 2, "c": 1, "d": 1, "graded": 5, "ungraded": 2}
    p = pm["percent"]
    assert (p["progressive"], p["non_progressive"], p["immotile"], p["motile"]) == pytest.approx((60, 20, 20, 80))
    t = motility_percentages(table, weighting="time")["percent"]
    assert t["d"] == pytest.approx(50.0) and t["a"] == pytest.approx(12.5)
    empty = motility_percentages(table.iloc[5:])["percent"]
    assert empty["progressive"] is None


def test_summary_holds_counts_noise_config_and_concentration(make_tracks, line, rng):
    paths = {1: line(100, speed_px=2.0), 2: line(100, speed_px=0.5, start=(100, 300)),
             3: 400 + rng.normal(0, 0.3, (100, 2)), 4: line(20, start=(500, 50))}
    result = analyze_tracks(make_tracks(paths), 0.351, 50.0)
    summary = summarize(result, chamber_depth_um=20.0, frame_size_px=(640, 480), extra={"tracks": "x.csv"})
    assert summary["counts"] == {"a": 1, "b": 1, "c": 0, "d": 1, "graded": 3, "ungraded": 1}
    assert summary["ungraded_reasons"] == {"too_short": 1}
    assert summary["percent"]["progressive"] == pytest.approx(200 / 3)
    assert summary["motile_means"]["vcl_um_s"] > 0
    assert summary["config"]["name"] == "who2021" and "versions" not in summary  # stamped by the writers
    assert summary["noise"]["sigma_px"] >= 0 and summary["drift"]["enabled"] is True
    # 3.2 sperm per frame in 640 x 480 px at 0.351 um/px, 20 um deep
    volume_ml = 640 * 480 * 0.351**2 * 20 * 1e-12
    assert summary["concentration_1e6_per_ml"] == pytest.approx(320 / 100 / volume_ml / 1e6)
    json.dumps(summary, allow_nan=False)
    with pytest.raises(InputError, match="frame size"):
        summarize(result, chamber_depth_um=20.0)


def test_write_kinematics_writes_both_files_atomically(tmp_path, make_tracks, line):
    result = analyze_tracks(make_tracks({1: line(80), 2: line(10, start=(300, 300))}), 0.351, 50.0)
    paths = write_kinematics(tmp_path / "out", result.table, {**summarize(result), "odd": float("nan")})
    assert [p.name for p in paths] == ["kinematics.csv", "summary.json"]
    back = pd.read_csv(paths[0])
    assert back["track_id"].tolist() == [1, 2] and back["grade"].isna().tolist() == [False, True]
    summary = json.loads(paths[1].read_text())
    assert summary["odd"] is None
    assert not list((tmp_path / "out").glob(".*"))                  # no temporary files left behind


def test_agreement_statistics():
    a = agreement([10.0, 20.0, 30.0], [12.0, 18.0, 33.0])
    assert a["mae"] == pytest.approx(7 / 3)
    assert a["bias"] == pytest.approx(-1.0)
    d = np.array([-2.0, 2.0, -3.0])
    assert a["loa_high"] == pytest.approx(-1 + 1.96 * d.std(ddof=1))
    assert a["pearson_r"] == pytest.approx(np.corrcoef([10, 20, 30], [12, 18, 33])[0, 1])
    assert math.isnan(agreement([1.0, 1.0], [2.0, 3.0])["pearson_r"])


def _synthetic_tables(rng, n_videos=6):
    """Videos whose true progressive share is the share of tracks with progression >= 12 um/s."""
    tables, lab = {}, {}
    for v in range(n_videos):
        n = 40
        prog = rng.uniform(0, 30, n)
        tables[str(v)] = pd.DataFrame({
            "duration_s": 5.0, "progression_um_s": prog, "vap_um_s": prog * 1.2, "str": rng.uniform(0.3, 1, n),
            "lin": 0.5, "motion_um": np.where(prog > 1, 1.0, 0.0), "noise_floor_um": 0.1, "n_points": 250,
            "ungraded_reason": "", "grade": None, "graded": True})
        lab[str(v)] = {"progressive": 100 * (prog >= 12).mean(), "non_progressive": 0.0, "immotile": 0.0}
    return tables, pd.DataFrame.from_dict(lab, orient="index")


def test_fit_recovers_a_known_threshold_and_the_fast_grid_matches_regrading(rng):
    tables, lab = _synthetic_tables(rng)
    fit = Fit.product("progressive", b_threshold_um_s=np.arange(2, 30, 0.5))
    cfg, mae = fit_threshold(tables, lab, get_preset(), fit)
    assert mae == pytest.approx(0.0, abs=1e-9) and 10.0 < cfg.b_threshold_um_s <= 13.0
    joint = Fit.product("progressive", b_threshold_um_s=[5.0, 12.0, 30.0], str_min=[0.0, 0.6])
    matrix = _grid_matrix([_Video(t, get_preset("casa")) for t in tables.values()], get_preset("casa"), joint)
    for k, values in enumerate(joint.grid):
        slow = predict_percentages(tables, with_values(get_preset("casa"), joint.parameters, values))
        np.testing.assert_allclose(matrix[:, k], slow["progressive"].to_numpy())


def test_leave_one_out_never_sees_the_held_out_video(rng):
    tables, lab = _synthetic_tables(rng)
    fit = Fit.product("progressive", b_threshold_um_s=np.arange(2, 30, 0.5))
    base = leave_one_out(tables, lab, get_preset(), [fit])
    poisoned = lab.copy()
    poisoned.loc["0", "progressive"] = 100.0                         # a wild reference for video 0 only
    again = leave_one_out(tables, poisoned, get_preset(), [fit])
    assert again.loc["0", "progressive"] == pytest.approx(base.loc["0", "progressive"])
    assert again.loc["0", "b_threshold_um_s"] == base.loc["0", "b_threshold_um_s"]


def test_fit_rejects_unknown_parameters():
    with pytest.raises(InputError):
        Fit(("vap_window",), "progressive", ((5.0,),))
    with pytest.raises(InputError):
        Fit(("b_threshold_um_s",), "motile", ((5.0,),))
