"""Grading rule, config validation and presets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.kinematics import KINEMATICS_PRESETS, KinematicsConfig, get_preset, grade_table, load_visem_preset
from spermtrack.kinematics.grades import classify


def test_who_thresholds_are_inclusive_at_25_and_5():
    grade = classify(np.array([25.0, 24.99, 5.0, 4.99, 1.0, np.nan]), np.array([1.0] * 4 + [0.1, np.nan]),
                     np.zeros(6), a_threshold=25, b_threshold=5, motile_min=0.25)
    assert grade.tolist() == ["a", "b", "b", "c", "d", "d"]


def test_motion_must_clear_both_the_floor_and_the_minimum():
    grade = classify(np.zeros(3), np.array([0.5, 0.5, 0.2]), np.array([0.6, 0.4, 0.1]), a_threshold=25,
                     b_threshold=5, motile_min=0.25)
    assert grade.tolist() == ["d", "c", "d"]


def _table(**cols):
    base = {"duration_s": [2.0], "progression_um_s": [30.0], "vap_um_s": [30.0], "str": [0.9], "lin": [0.8],
            "motion_um": [1.0], "noise_floor_um": [0.1], "ungraded_reason": [""]}
    base.update({k: [v] for k, v in cols.items()})
    return pd.DataFrame(base)


def test_grade_table_reasons_and_gates():
    assert grade_table(_table(), get_preset())["grade"].tolist() == ["a"]
    short = grade_table(_table(duration_s=0.5), get_preset())
    assert short["grade"].tolist() == [None] and short["ungraded_reason"].tolist() == ["too_short"]
    gap = grade_table(_table(ungraded_reason="gap"), get_preset())
    assert gap["ungraded_reason"].tolist() == ["gap"] and not gap["graded"].iloc[0]
    # commercial CASA: straightness gate
    assert grade_table(_table(str=0.5), get_preset("casa"))["grade"].tolist() == ["c"]
    assert grade_table(_table(str=0.85), get_preset("casa"))["grade"].tolist() == ["a"]
    with pytest.raises(InputError, match="missing"):
        grade_table(_table().drop(columns="motion_um"), get_preset())


def test_presets_exist_and_differ():
    assert KINEMATICS_PRESETS == ("who2021", "casa", "visem")
    who, casa, visem = (get_preset(p) for p in KINEMATICS_PRESETS)
    assert who == KinematicsConfig()
    assert (who.a_threshold_um_s, who.b_threshold_um_s, who.grade_metric) == (25.0, 5.0, "progression")
    assert casa.grade_metric == "vap" and casa.str_min == pytest.approx(0.8)
    assert visem.name == "visem" and visem.drift_compensation


def test_visem_preset_carries_its_provenance():
    config, prov = load_visem_preset()
    assert config == get_preset("visem")
    for key in ("created_utc", "data", "method", "leave_one_video_out", "fitted"):
        assert key in prov
    assert prov["data"]["tracks"]["videos"] == ["11", "12", "13", "14", "15", "19", "21", "22", "23", "24", "29",
                                                "30", "35", "36", "38", "47"]
    for name, value in prov["fitted"].items():
        assert getattr(config, name) == pytest.approx(value)


def test_config_round_trips_through_a_dict():
    cfg = get_preset("casa", smooth_half_widths=(3, 5), class_ids=(0,))
    assert KinematicsConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad", [{"vap_window": 4}, {"vap_window": 0}, {"alh_factor": 3}, {"a_threshold_um_s": 4.0},
                                 {"min_duration_s": 0.5}, {"positions": "smoothed"}, {"grade_metric": "vcl"},
                                 {"str_min": 1.5}, {"noise_px": -0.1}, {"drift_compensation": 1},
                                 {"smooth_half_widths": (1,)}, {"class_ids": ()}, {"weighting": "frames"},
                                 {"motile_min_um": float("nan")}, {"progression_window_s": 0.0}])
def test_invalid_settings_are_rejected(bad):
    with pytest.raises(InputError):
        KinematicsConfig(**bad)


def test_misspelt_setting_and_unknown_preset_are_rejected():
    with pytest.raises(InputError, match="unknown KinematicsConfig setting"):
        get_preset("who2021", drift_compensaton=False)
    with pytest.raises(InputError, match="unknown KinematicsConfig setting"):
        KinematicsConfig.from_dict({"vap_windw": 5})
    with pytest.raises(InputError, match="unknown kinematics preset"):
        get_preset("who2010")


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        get_preset().vap_window = 7
