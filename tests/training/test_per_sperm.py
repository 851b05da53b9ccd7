"""The per-sperm video model's training data (spermtrack.training.per_sperm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.kinematics import get_preset
from spermtrack.training import per_sperm as recipe


def test_soft_targets_share_the_label_only_near_the_progression_thresholds():
    grades = np.array(["a", "b", "b", "c", "d"])
    prog = np.array([25.0, 24.0, 12.0, 4.5, 0.0])  # on a/b; 1 um/s under a/b; far; 0.5 under b/c; still
    t = recipe.soft_targets(grades, prog, soft_um_s=2.0)
    np.testing.assert_allclose(t[0], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(t[1], [0.25, 0.75, 0, 0])
    np.testing.assert_allclose(t[2], [0, 1, 0, 0])
    np.testing.assert_allclose(t[3], [0, 0.375, 0.625, 0])  # c near b/c shares with b
    np.testing.assert_allclose(t[4], [0, 0, 0, 1])  # d is told from c by the beat, never mixed


def _table(rows):
    return pd.DataFrame(rows, columns=["graded", "grade", "progression_um_s", "motion_um", "noise_floor_um"])


def test_unambiguous_grades_keep_a_grade_only_far_from_every_threshold():
    config = get_preset("who2021")  # a >= 25, b >= 5 um/s; motile when motion >= 0.25 um and above the floor
    table = _table([
        (True, "a", 40.0, 3.0, 0.1),     # far above 25 * 1.5
        (True, "a", 30.0, 3.0, 0.1),     # under 37.5: near a/b
        (True, "b", 12.0, 2.0, 0.1),     # 7.5 <= 12 <= 16.7
        (True, "b", 6.0, 2.0, 0.1),      # under 7.5: near b/c
        (True, "c", 1.0, 0.8, 0.1),      # still, motion >= 2.25 x 0.25
        (True, "c", 1.0, 0.4, 0.1),      # motion too close to the motile test
        (True, "c", 1.0, 0.8, 0.5),      # ... or to its noise floor (2.25 x 0.5 = 1.125)
        (True, "d", 0.5, 0.05, 0.0),     # motion under 0.25 / 2.25
        (True, "d", 0.5, 0.2, 0.0),      # motion near the test
        (True, "d", 4.0, 0.05, 0.0),     # progression near b/c (5 / 1.5 = 3.33)
        (False, None, 40.0, 3.0, 0.1),   # ungraded stays out
    ])
    got = recipe.unambiguous_grades(table, config, factor=1.5)
    assert list(got) == ["a", None, "b", None, "c", None, None, "d", None, None, None]
    # a factor of 1 keeps every graded track
    every = recipe.unambiguous_grades(table, config, factor=1.0)
    assert list(every) == list(table["grade"][:10]) + [None]


def test_unambiguous_grades_read_the_presets_speed_and_thresholds_and_refuse_a_gated_one():
    from spermtrack.kinematics import KinematicsConfig

    table = _table([(True, "a", 0.0, 3.0, 0.1), (True, "b", 0.0, 2.0, 0.1)]).assign(vap_um_s=[50.0, 30.0])
    vap = KinematicsConfig(name="vap", grade_metric="vap", a_threshold_um_s=30.0, b_threshold_um_s=10.0)
    assert list(recipe.unambiguous_grades(table, vap)) == ["a", None]  # 50 >= 45; 30 is above 30 / 1.5
    with pytest.raises(InputError, match="casa"):
        recipe.unambiguous_grades(table, get_preset("casa"))


def test_real_clips_are_cut_along_the_annotated_tracks_with_their_kinematic_grade(reference):
    clips, targets, grades = recipe.real_clips(reference / "visem_real" / "11", 0, 120)
    assert clips.shape[1:] == (16, 32, 32) and len(clips) == len(targets) == len(grades) > 0
    assert set(grades) <= set("abcd")
    np.testing.assert_array_equal(targets.argmax(axis=1), ["abcd".index(g) for g in grades])
    assert clips.std(axis=(1, 2, 3)).min() > 1.0  # real pixels, not padding
    with pytest.raises(InputError, match="does not exist"):
        recipe.real_clips(reference / "visem_real" / "missing", 0, 10)


def test_the_recipe_adds_real_clips_to_training_and_scores_the_real_validation_clips(reference, tmp_path, monkeypatch):
    monkeypatch.setitem(recipe.RECIPE, "train", [{"polarity": "phase", "n_videos": 1, "seed": 7000, "density": 6.0}])
    monkeypatch.setitem(recipe.RECIPE, "val", [{"polarity": "phase", "n_videos": 1, "seed": 7200, "density": 6.0}])
    monkeypatch.setitem(recipe.RECIPE, "seconds", 1.0)
    monkeypatch.setattr(recipe, "REAL", {**recipe.REAL, "train": (0, 100), "val": (100, 160)})
    alone = recipe.synthetic_clips(1, 7000, density=6.0, seconds=1.0)[0]
    report = recipe.run_recipe(tmp_path, epochs=1, progress=False, real=reference / "visem_real" / "11",
                               architectures=["cnn3d"])
    n_real = sum(report["real_clips"]["train"].values())
    assert n_real > 0 and report["train_clips"] == len(alone) + n_real
    assert report["models"]["cnn3d"]["real_val"]["n"] == sum(report["real_clips"]["val"].values())
    assert list(report["models"]) == ["cnn3d"] and (tmp_path / "per_sperm.pt").is_file()
