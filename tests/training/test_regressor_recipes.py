"""The regressors' training sets and recipe (spermtrack.training.regressors)."""

from __future__ import annotations

import numpy as np
import pytest

from spermtrack.training import regressors as recipe


def test_drawn_settings_stay_in_the_recipe_ranges():
    rng = np.random.default_rng(0)
    ranges = recipe.RECIPE["ranges"]
    configs = [recipe.draw_config(rng, seconds=1.0, fps=50.0, mix="flat") for _ in range(200)]
    for name in ("density", "drift_um_s", "blur_px", "noise_sd", "illumination", "um_per_px"):
        values = np.array([getattr(c, name) for c in configs])
        assert ranges[name][0] <= values.min() and values.max() <= ranges[name][1]
    mixes = np.array([c.grade_mix for c in configs])
    np.testing.assert_allclose(mixes.sum(axis=1), 1.0)
    assert mixes.min() < 0.02 and mixes.max() > 0.8  # flat over the simplex: corners are reached
    bright = np.mean([c.polarity == "bright" for c in configs])
    assert 0.2 < bright < 0.4
    visem = np.array([recipe.draw_config(rng, seconds=1.0, fps=50.0, mix="visem").grade_mix for _ in range(400)])
    np.testing.assert_allclose(visem.mean(axis=0), recipe.VISEM_MIX_ALPHA / recipe.VISEM_MIX_ALPHA.sum(), atol=0.03)


def test_prior_resample_moves_flat_mixtures_to_the_visem_like_prior():
    rng = np.random.default_rng(1)
    train = [recipe.TrainingVideo(None, None, {"grade_mix": list(rng.dirichlet(np.ones(4)))}, {}) for _ in range(4000)]
    assert recipe.prior_resample(train, 0.0) is train
    full = recipe.prior_resample(train, 1.0, seed=2)
    assert len(full) == len(train) and len({id(v) for v in full}) < len(train)  # drawn with replacement
    flat_mean = np.mean([v.settings["grade_mix"] for v in train], axis=0)
    full_mean = np.mean([v.settings["grade_mix"] for v in full], axis=0)
    np.testing.assert_allclose(flat_mean, 0.25, atol=0.02)
    # importance sampling to the prior: its mean (7 / 19 / 33 / 41 %), up to the sampling error of ~470 videos
    np.testing.assert_allclose(full_mean, recipe.VISEM_MIX_ALPHA / recipe.VISEM_MIX_ALPHA.sum(), atol=0.03)
    half_mean = np.mean([v.settings["grade_mix"] for v in recipe.prior_resample(train, 0.5, seed=2)], axis=0)
    assert full_mean[0] < half_mean[0] < flat_mean[0] and full_mean[3] > half_mean[3] > flat_mean[3]
    assert [id(v) for v in recipe.prior_resample(train, 0.5, seed=2)] == [id(v) for v in
                                                                       recipe.prior_resample(train, 0.5, seed=2)]
    with pytest.raises(ValueError, match="prior_power"):
        recipe.prior_resample(train, -1.0)
    with pytest.raises(ValueError, match="grade_mix"):
        recipe.prior_resample([recipe.TrainingVideo(None, None, {}, {})], 0.5)


def test_val_metrics_are_points_over_the_three_lab_categories():
    truth = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.2, 0.2]])
    pred = np.array([[0.2, 0.2, 0.2, 0.4], [0.4, 0.1, 0.3, 0.2]])  # progressive +10 / -10, c -10 / +10, d 0
    m = recipe.val_metrics(pred, truth)
    assert m["progressive"] == pytest.approx(10.0) and m["non_progressive"] == pytest.approx(10.0)
    assert m["immotile"] == pytest.approx(0.0) and m["all"] == pytest.approx(20.0 / 3, abs=1e-3)
    assert m["rmse_progressive"] == pytest.approx(10.0)


def test_one_rendered_video_gives_every_regressors_inputs_and_its_exact_truth():
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.synth import SynthConfig

    config = SynthConfig(seconds=1.2, fps=25.0, width=160, height=120, density=8.0, write_images=False,
                         grade_mix=(0.25, 0.25, 0.25, 0.25))
    item = recipe.video_inputs(config, 3, "v", InputSettings.quick())
    assert item.inputs.frames.shape[1:] == (60, 80) and item.inputs.flow.shape[1:] == (8, 32, 32)
    assert item.targets.sum() == pytest.approx(1.0) and (item.targets >= 0).all()
    assert {"progressive", "non_progressive", "immotile"} <= set(item.tracking_percent)
    assert "graded" in item.inputs.kinematics.columns


def test_early_stopping_keeps_the_best_validation_epoch(monkeypatch):
    """fit_model restores the weights of the epoch with the lowest validation MAE (and takes ``prior_power``)."""
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.synth import SynthConfig

    config = SynthConfig(seconds=1.2, fps=25.0, width=160, height=120, density=8.0, write_images=False,
                         grade_mix=(0.1, 0.2, 0.3, 0.4))
    videos = [recipe.video_inputs(config, seed, str(seed), InputSettings.quick()) for seed in (1, 2, 3)]
    model, history, best = recipe.fit_model("flow2d", videos[:2], videos[2:], epochs=3, batch=4, progress=False,
                                            prior_power=0.5)
    assert [h["epoch"] for h in history][:1] == [0] and len(history) <= 3
    assert best == min(history, key=lambda h: h["all"])["epoch"]
    again = recipe.val_metrics(model.predict([videos[2].inputs]), videos[2].targets[None])
    assert again["all"] == pytest.approx(history[best]["all"], abs=1e-6)


def test_a_cached_set_reads_back_only_the_inputs_a_model_needs(tmp_path, monkeypatch):
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.synth import SynthConfig

    config = SynthConfig(seconds=1.2, fps=25.0, width=160, height=120, density=8.0, write_images=False)
    import spermtrack.crosscheck.inputs as inputs

    # one small video, prepared at the quick input size
    monkeypatch.setattr(recipe, "draw_config", lambda rng, **kw: config)
    monkeypatch.setattr(inputs, "InputSettings", InputSettings.quick)
    monkeypatch.setitem(recipe.RECIPE, "val", {**recipe.RECIPE["val"], "n_videos": 1})
    assert recipe.make_set(tmp_path, "val", progress=False) == ["val_0000"]
    whole = recipe.load_set(tmp_path, "val")[0]
    assert whole.inputs.frames is not None and whole.inputs.flow is not None and len(whole.inputs.kinematics)
    flow_only = recipe.load_set(tmp_path, "val", ("flow",))[0]
    assert flow_only.inputs.frames is None and flow_only.inputs.kinematics is None
    np.testing.assert_array_equal(flow_only.inputs.flow, whole.inputs.flow)
    np.testing.assert_array_equal(flow_only.targets, whole.targets)
