"""Agreement of motility percentages with a reference: MAE, Pearson r, Bland-Altman bias and limits.

The correlation and Bland-Altman plots of these statistics are drawn by :func:`spermtrack.plots.plot_agreement`.

A method (tracks -> WHO grades) gives, per video, the percentage of progressive, non-progressive and
immotile sperm; the reference is the synthetic truth, the grades of ground-truth tracks, or the lab's
manual semen analysis (VISEM's ``semen_analysis_data_Train.csv``). With ``p_i`` the predicted and
``r_i`` the reference percentage of video ``i`` (``n`` videos with both values finite) and
``d_i = p_i - r_i`` in percentage points:

- ``MAE = (1/n) sum |d_i|``, ``RMSE = sqrt((1/n) sum d_i^2)``;
- Pearson ``r = sum (p_i - p_bar)(r_i - r_bar) / sqrt(sum (p_i - p_bar)^2 sum (r_i - r_bar)^2)`` and its
  two-sided p-value under no correlation, from ``t = r sqrt((n - 2) / (1 - r^2))`` with ``n - 2`` degrees
  of freedom;
- Bland-Altman: ``bias = d_bar = (1/n) sum d_i``, ``sd = sqrt(sum (d_i - d_bar)^2 / (n - 1))`` and the 95 %
  limits of agreement ``bias -/+ 1.96 sd``, plotted against the mean ``(p_i + r_i) / 2``.

A high r does not mean agreement (a method reading twice the truth correlates perfectly); the
Bland-Altman bias and limits say how far one reading may be from the other (Bland & Altman 1986).

Undefined statistics are NaN, never 0: r needs ``n >= 2`` and neither side constant, its p-value ``n >= 3``;
``sd`` and the limits
need ``n >= 2``; everything is NaN for ``n = 0``.

References
----------
Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement between two methods of
clinical measurement. The Lancet 327(8476), 307-310.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

__all__ = ["AGREEMENT_KEYS", "CATEGORIES", "CATEGORY_LABELS", "agreement", "grade_agreement", "percentages_table"]

#: The three WHO categories the lab reports (WHO 2010 / 2021 wording), as column names.
CATEGORIES: tuple[str, ...] = ("progressive", "non_progressive", "immotile")
#: Human-readable names for plots and tables.
CATEGORY_LABELS: dict[str, str] = {"progressive": "progressive", "non_progressive": "non-progressive",
                                   "immotile": "immotile", "all": "all categories"}
#: Keys of :func:`agreement`'s result, in order.
AGREEMENT_KEYS: tuple[str, ...] = ("n", "mae", "rmse", "pearson_r", "pearson_p", "bias", "sd", "loa_low",
                                   "loa_high")

_LOA_Z = 1.96


def agreement(predicted: Sequence[float] | np.ndarray, reference: Sequence[float] | np.ndarray) -> dict[str, float]:
    """MAE, RMSE, Pearson r and Bland-Altman bias and 95 % limits of ``predicted`` against ``reference``.

    Parameters
    ----------
    predicted, reference : sequence of float
        Paired values (e.g. progressive motility in %, one per video). Pairs where either value is NaN or
        infinite are left out.

    Returns
    -------
    dict
        ``n`` (pairs used), ``mae = mean |p - r|``, ``rmse = sqrt(mean (p - r)^2)``,
        ``pearson_r = cov(p, r) / (sd(p) sd(r))``, ``pearson_p`` (two-sided p-value of r, see the module
        notes), ``bias = mean(p - r)``, ``sd`` (sample standard
        deviation of ``p - r``, ddof 1), ``loa_low = bias - 1.96 sd``, ``loa_high = bias + 1.96 sd``
        (Bland & Altman 1986). NaN where undefined (see the module notes).

    Raises
    ------
    InputError
        The inputs are not 1-d sequences of the same length, or hold a non-number.
    """
    p = _vector(predicted, "predicted")
    r = _vector(reference, "reference")
    if p.shape != r.shape:
        raise InputError(f"predicted and reference must have the same length, got {p.size} and {r.size}")
    ok = np.isfinite(p) & np.isfinite(r)
    p, r = p[ok], r[ok]
    n = int(p.size)
    nan = math.nan
    if n == 0:
        return {"n": 0, **dict.fromkeys(AGREEMENT_KEYS[1:], nan)}
    d = p - r
    bias = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else nan
    r_value = _pearson(p, r)
    return {
        "n": n,
        "mae": float(np.abs(d).mean()),
        "rmse": float(np.sqrt(np.mean(d * d))),
        "pearson_r": r_value,
        "pearson_p": _pearson_p(r_value, n),
        "bias": bias,
        "sd": sd,
        "loa_low": bias - _LOA_Z * sd,
        "loa_high": bias + _LOA_Z * sd,
    }


def _vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold numbers") from None
    if a.ndim != 1:
        raise InputError(f"{name} must be a 1-d sequence, got shape {a.shape}")
    return a


def _pearson(p: np.ndarray, r: np.ndarray) -> float:
    """Pearson's r, NaN for fewer than two pairs or a constant side."""
    if p.size < 2:
        return math.nan
    dp, dr = p - p.mean(), r - r.mean()
    den = math.sqrt(float(np.dot(dp, dp)) * float(np.dot(dr, dr)))
    if den == 0.0:
        return math.nan
    return float(np.clip(np.dot(dp, dr) / den, -1.0, 1.0))


def _pearson_p(r: float, n: int) -> float:
    """Two-sided p-value of Pearson's r for ``n`` pairs (t test, ``n - 2`` df); NaN when undefined."""
    from scipy.stats import t as student_t

    if n < 3 or math.isnan(r):
        return math.nan
    if abs(r) >= 1.0:
        return 0.0
    t = abs(r) * math.sqrt((n - 2) / (1.0 - r * r))
    return float(2.0 * student_t.sf(t, n - 2))


def percentages_table(values: Mapping[str, Mapping[str, float | None]], *,
                      categories: Sequence[str] = CATEGORIES) -> pd.DataFrame:
    """Per-video percentages as a table.

    Parameters
    ----------
    values : mapping of str to mapping
        Video id -> ``{category: percent}`` (e.g. the ``percent`` dict of
        :func:`spermtrack.kinematics.motility_percentages`); ``None`` (nothing graded) becomes NaN.
    categories : sequence of str
        Which categories to keep (default progressive, non-progressive, immotile).

    Returns
    -------
    pandas.DataFrame
        Index ``video`` (str), one float column per category, in percent.
    """
    rows = {str(k): {c: _as_float(v.get(c)) for c in categories} for k, v in values.items()}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(categories)).astype(np.float64)
    out.index = pd.Index([str(i) for i in out.index], name="video")
    return out


def _as_float(value: object) -> float:
    return math.nan if value is None else float(value)


def grade_agreement(predicted: pd.DataFrame, reference: pd.DataFrame, *,
                    categories: Sequence[str] = CATEGORIES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-video errors and per-category agreement of motility percentages.

    Parameters
    ----------
    predicted, reference : pandas.DataFrame
        Indexed by video id (compared as str), one column per category (percent), e.g. from
        :func:`percentages_table` or :func:`spermtrack.io.clinical.motility_columns`. Only videos in
        ``predicted`` are scored; each must be in ``reference``.
    categories : sequence of str
        Columns to compare; each must be in both tables.

    Returns
    -------
    per_video : pandas.DataFrame
        One row per video and category: ``video``, ``category``, ``predicted``, ``reference``,
        ``error = predicted - reference`` (percentage points), ``mean = (predicted + reference) / 2``.
    summary : pandas.DataFrame
        Indexed by category plus ``"all"`` (the pairs of every category pooled), columns
        :data:`AGREEMENT_KEYS` (see :func:`agreement`).

    Raises
    ------
    InputError
        A category column is missing, or a predicted video has no reference row.
    """
    categories = list(categories)
    for name, table in (("predicted", predicted), ("reference", reference)):
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
        missing = [c for c in categories if c not in table.columns]
        if missing:
            raise InputError(f"{name} percentages lack column(s) {', '.join(missing)}")
    pred = predicted.copy()
    ref = reference.copy()
    pred.index = pred.index.map(str)
    ref.index = ref.index.map(str)
    absent = [v for v in pred.index if v not in ref.index]
    if absent:
        raise InputError(f"no reference percentages for video(s) {', '.join(absent)}; "
                         f"the reference holds {', '.join(ref.index) or 'none'}")
    ref = ref.loc[pred.index]
    parts = []
    for c in categories:
        p = pred[c].to_numpy(np.float64)
        r = ref[c].to_numpy(np.float64)
        parts.append(pd.DataFrame({"video": pred.index.to_numpy(dtype=object), "category": c, "predicted": p,
                                   "reference": r, "error": p - r, "mean": (p + r) / 2}))
    per_video = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["video", "category", "predicted", "reference", "error", "mean"])
    rows = {c: agreement(pred[c].to_numpy(np.float64), ref[c].to_numpy(np.float64)) for c in categories}
    rows["all"] = agreement(per_video["predicted"].to_numpy(np.float64), per_video["reference"].to_numpy(np.float64))
    summary = pd.DataFrame.from_dict(rows, orient="index", columns=list(AGREEMENT_KEYS))
    summary.index.name = "category"
    summary["n"] = summary["n"].astype(np.int64)
    return per_video, summary
