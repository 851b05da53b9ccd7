"""Agreement of motility percentages: MAE, Pearson r, Bland-Altman bias and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spermtrack.errors import InputError
from spermtrack.eval.agreement import AGREEMENT_KEYS, CATEGORIES, agreement, grade_agreement


# ----------------------------------------------------------------------------------------------------------------------
# agreement(): worked examples
# ----------------------------------------------------------------------------------------------------------------------
def test_worked_example_by_hand():
    # d = p - r = (-2, 2, -3): mean -1, sample sd sqrt(((-1)^2 + 3^2 + (-2)^2) / 2) = sqrt(7)
    out = agreement([10.0, 20.0, 30.0], [12.0, 18.0, 33.0])
    assert out["n"] == 3
    assert out["mae"] == pytest.approx(7 / 3)
    assert out["rmse"] == pytest.approx(math.sqrt(17 / 3))
    assert out["bias"] == pytest.approx(-1.0)
    assert out["sd"] == pytest.approx(math.sqrt(7))
    assert out["loa_low"] == pytest.approx(-1 - 1.96 * math.sqrt(7))
    assert out["loa_high"] == pytest.approx(-1 + 1.96 * math.sqrt(7))
    assert out["pearson_r"] == pytest.approx(np.corrcoef([10, 20, 30], [12, 18, 33])[0, 1])
    assert tuple(out) == AGREEMENT_KEYS


def test_the_p_value_of_r_by_hand():
    # p = (1, 2, 3, 4), r = (1, 3, 2, 4): deviations (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5), so
    # r = 4 / 5 = 0.8; t = 0.8 sqrt(2 / 0.36) with 2 df, where P(|T| > t) = 1 - t / sqrt(2 + t^2) = 1 - 0.8.
    out = agreement([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])
    assert out["pearson_r"] == pytest.approx(0.8)
    assert out["pearson_p"] == pytest.approx(0.2)
    assert math.isnan(agreement([1.0, 2.0], [2.0, 1.0])["pearson_p"])  # n = 2: no degree of freedom
    assert agreement([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])["pearson_p"] == 0.0  # perfect correlation


def test_perfect_agreement():
    out = agreement([5.0, 40.0, 75.0], [5.0, 40.0, 75.0])
    assert out["mae"] == 0 and out["bias"] == 0 and out["sd"] == 0
    assert out["loa_low"] == 0 and out["loa_high"] == 0 and out["pearson_r"] == pytest.approx(1.0)


def test_correlation_is_not_agreement():
    """Bland & Altman's point: a method reading twice the truth correlates perfectly but disagrees."""
    ref = np.array([10.0, 20.0, 30.0, 40.0])
    twice = agreement(2 * ref, ref)
    assert twice["pearson_r"] == pytest.approx(1.0)
    assert twice["bias"] == pytest.approx(25.0) and twice["mae"] == pytest.approx(25.0)
    shifted = agreement(ref + 5, ref)  # a constant offset: zero spread, the limits collapse onto the bias
    assert shifted["bias"] == pytest.approx(5.0) and shifted["sd"] == pytest.approx(0.0)
    assert shifted["loa_low"] == pytest.approx(5.0) == shifted["loa_high"]


def test_undefined_statistics_are_nan_not_zero():
    empty = agreement([], [])
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in AGREEMENT_KEYS[1:])
    one = agreement([10.0], [12.0])
    assert one["n"] == 1 and one["mae"] == 2 and one["bias"] == -2
    assert math.isnan(one["sd"]) and math.isnan(one["loa_low"]) and math.isnan(one["pearson_r"])
    flat = agreement([10.0, 20.0, 30.0], [25.0, 25.0, 25.0])  # constant reference: r undefined
    assert math.isnan(flat["pearson_r"]) and flat["mae"] == pytest.approx(25 / 3)


def test_nan_pairs_are_left_out():
    out = agreement([10.0, np.nan, 30.0, 40.0], [12.0, 20.0, np.inf, 38.0])
    assert out["n"] == 2
    assert out["mae"] == pytest.approx(2.0) and out["bias"] == pytest.approx(0.0)


def test_bad_input():
    with pytest.raises(InputError, match="same length"):
        agreement([1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="1-d"):
        agreement([[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(InputError, match="numbers"):
        agreement(["a", "b"], [1.0, 2.0])


# ----------------------------------------------------------------------------------------------------------------------
# Equivalence with independent implementations, and properties
# ----------------------------------------------------------------------------------------------------------------------
def test_matches_kinematics_calibrate_and_scipy():
    from scipy import stats

    from spermtrack.kinematics import agreement as calibrate_agreement

    rng = np.random.default_rng(3)
    ref = rng.uniform(0, 100, 16)
    pred = ref + rng.normal(4, 9, 16)
    ours = agreement(pred, ref)
    theirs = calibrate_agreement(pred, ref)
    for key in ("n", "mae", "pearson_r", "bias", "loa_low", "loa_high"):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-12, abs=1e-12)
    assert ours["pearson_r"] == pytest.approx(stats.pearsonr(pred, ref).statistic, rel=1e-12)
    assert ours["sd"] == pytest.approx(np.std(pred - ref, ddof=1), rel=1e-12)


pct = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(pct, pct), min_size=2, max_size=12), st.floats(min_value=-50, max_value=50))
def test_properties(pairs, shift):
    p = np.array([a for a, _ in pairs])
    r = np.array([b for _, b in pairs])
    out = agreement(p, r)
    swapped = agreement(r, p)
    # swapping the methods flips the bias and mirrors the limits; MAE and RMSE are symmetric
    assert swapped["bias"] == pytest.approx(-out["bias"], abs=1e-9)
    assert swapped["loa_low"] == pytest.approx(-out["loa_high"], abs=1e-9)
    assert swapped["mae"] == pytest.approx(out["mae"], abs=1e-9)
    # moving both readings by the same amount changes nothing
    moved = agreement(p + shift, r + shift)
    for key in ("mae", "bias", "sd", "loa_low", "loa_high"):
        assert moved[key] == pytest.approx(out[key], abs=1e-7)
    assert out["loa_low"] <= out["bias"] <= out["loa_high"]
    assert abs(out["bias"]) <= out["mae"] + 1e-12 <= out["rmse"] + 2e-12
    assert math.isnan(out["pearson_r"]) or -1.0 <= out["pearson_r"] <= 1.0


# ----------------------------------------------------------------------------------------------------------------------
# Tables of percentages
# ----------------------------------------------------------------------------------------------------------------------
def test_percentages_table_turns_none_into_nan(agreement_tables):
    pred, _ = agreement_tables
    assert list(pred.columns) == list(CATEGORIES) and pred.index.tolist() == ["52", "54", "60"]
    assert pred.loc["60"].isna().all()


def test_grade_agreement_per_video_and_summary(agreement_tables):
    pred, ref = agreement_tables
    per_video, summary = grade_agreement(pred, ref)
    assert len(per_video) == 3 * 3  # 3 videos x 3 categories; the lab's video 82 is not predicted
    row = per_video[(per_video["video"] == "52") & (per_video["category"] == "progressive")].iloc[0]
    assert row["predicted"] == 30 and row["reference"] == 25 and row["error"] == 5 and row["mean"] == 27.5
    assert list(summary.index) == [*CATEGORIES, "all"]
    prog = summary.loc["progressive"]
    assert prog["n"] == 2 and prog["mae"] == pytest.approx(5.0) and prog["bias"] == pytest.approx(0.0)
    assert summary.loc["all", "n"] == 6
    assert summary.loc["all", "mae"] == pytest.approx(np.mean([5, 5, 5, 5, 0, 0]))


def test_grade_agreement_bad_input(agreement_tables):
    pred, ref = agreement_tables
    with pytest.raises(InputError, match="no reference percentages for video"):
        grade_agreement(pred, ref.drop(index=54))
    with pytest.raises(InputError, match="immotile"):
        grade_agreement(pred, ref.drop(columns="immotile"))
