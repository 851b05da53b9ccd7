"""Photometric augmentation and score calibration: pure functions with obvious answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spermtrack.detectors.augment import PhotometricAugment, PhotometricConfig, augment_photometric
from spermtrack.detectors.calibrate import ScoreCalibration, fit_logistic, fit_score_calibration
from spermtrack.errors import InputError

OFF = dict(p_invert=0, p_gray=0, p_contrast=0, p_blur=0, p_noise=0, p_jpeg=0)


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_no_step_leaves_the_image_unchanged():
    img = _image()
    assert np.array_equal(augment_photometric(img, np.random.default_rng(0), PhotometricConfig(**OFF)), img)


def test_polarity_inversion_is_exact():
    img = _image()
    out = augment_photometric(img, np.random.default_rng(0), PhotometricConfig(**{**OFF, "p_invert": 1}))
    assert np.array_equal(out, 255 - img)


def test_gray_gives_equal_channels_and_input_is_not_modified():
    img = _image()
    copy = img.copy()
    out = augment_photometric(img, np.random.default_rng(0), PhotometricConfig(**{**OFF, "p_gray": 1}))
    assert np.array_equal(out[:, :, 0], out[:, :, 1]) and np.array_equal(out[:, :, 1], out[:, :, 2])
    assert np.array_equal(img, copy)


def test_same_generator_state_same_output_and_labels_untouched():
    img = _image(1)
    cfg = PhotometricConfig(p_invert=0.5, p_gray=0.5, p_contrast=1, p_blur=1, p_noise=1, p_jpeg=1)
    a = augment_photometric(img, np.random.default_rng(5), cfg)
    b = augment_photometric(img, np.random.default_rng(5), cfg)
    assert np.array_equal(a, b) and a.dtype == np.uint8 and a.shape == img.shape
    labels = {"img": img, "cls": np.array([[0.0]])}
    out = PhotometricAugment(cfg)(labels)
    assert out["img"].shape == img.shape and out["cls"] is labels["cls"]


@pytest.mark.parametrize("bad", [{"p_blur": 1.5}, {"gain": (2.0, 1.0)}, {"jpeg_quality": (0, 50)}, {"shift": 3}])
def test_bad_settings_are_one_line_errors(bad):
    with pytest.raises(InputError, match="PhotometricConfig"):
        PhotometricConfig(**bad)


def test_platt_scaling_recovers_known_parameters():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.01, 0.99, 20000)
    true = ScoreCalibration(slope=1.7, intercept=-0.8)
    labels = rng.uniform(size=scores.size) < true.apply(scores)
    fit = fit_score_calibration(scores, labels)
    assert fit.slope == pytest.approx(1.7, abs=0.08) and fit.intercept == pytest.approx(-0.8, abs=0.08)
    assert fit.n == scores.size


@given(st.floats(0.1, 5.0), st.floats(-3.0, 3.0), st.floats(0.01, 0.99))
@settings(max_examples=50, deadline=None)
def test_calibration_is_increasing_and_invertible(slope, intercept, p):
    cal = ScoreCalibration(slope=slope, intercept=intercept)
    s = np.linspace(0.001, 0.999, 50)
    assert np.all(np.diff(cal.apply(s)) > 0)
    raw = cal.invert(p)
    assert 0 < raw < 1
    assume(1e-5 < raw < 1 - 1e-5)  # raw scores are clipped to [1e-6, 1 - 1e-6]
    assert cal.apply(np.array([cal.invert(p)]))[0] == pytest.approx(p, abs=1e-6)


def test_calibration_round_trip_and_bad_input():
    cal = ScoreCalibration(slope=2.0, intercept=0.5, n=30, source="x")
    assert ScoreCalibration.from_dict(cal.to_dict()) == cal
    with pytest.raises(InputError, match="unknown"):
        ScoreCalibration.from_dict({"slope": 1.0, "offset": 2.0})
    with pytest.raises(InputError, match="slope"):
        ScoreCalibration(slope=-1.0)
    with pytest.raises(InputError, match="both true and false"):
        fit_score_calibration(np.linspace(0, 1, 30), np.ones(30, bool))
    with pytest.raises(InputError, match="at least 20"):
        fit_score_calibration(np.linspace(0, 1, 5), np.arange(5) > 2)
    with pytest.raises(InputError, match="rank"):
        fit_score_calibration(np.linspace(0.01, 0.99, 40), np.arange(40) < 20)


def test_logistic_fit_separates_a_linear_rule():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 2))
    y = rng.uniform(size=4000) < 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1] + 0.5)))
    beta = fit_logistic(x, y)
    assert beta == pytest.approx([2.0, -1.0, 0.5], abs=0.15)
