"""Fit grading thresholds to a lab's manual motility, and measure agreement honestly.

Used to build the ``visem`` preset (``benchmarks/kinematics_real.py``): the kinematics of each video are
computed once, then only the grading thresholds vary, so a grid search over thresholds is cheap.
Leave-one-video-out: the thresholds used for video k are fitted on the other videos only.

Agreement statistics (per category, predicted minus reference, in percentage points): mean absolute
error, Pearson r, and Bland-Altman bias with 95 % limits of agreement (bias +/- 1.96 sd of the
differences; Bland and Altman, Lancet 1986;327:307-310).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.kinematics.config import KinematicsConfig
from spermtrack.kinematics.grades import classify, grade_table
from spermtrack.kinematics.summary import motility_percentages

__all__ = ["CATEGORIES", "FITTABLE", "Fit", "agreement", "with_values", "predict_percentages", "fit_threshold",
           "fit_config", "leave_one_out"]

#: The lab's three WHO 2010 categories, as named in :func:`motility_percentages`.
CATEGORIES: tuple[str, ...] = ("progressive", "non_progressive", "immotile")


@dataclass(frozen=True)
class Fit:
    """Thresholds to fit jointly: config fields, the category whose MAE they minimise, and the grid.

    Parameters
    ----------
    parameters : tuple of str
        Config fields fitted together (any of :data:`FITTABLE`).
    category : str
        One of :data:`CATEGORIES`.
    grid : tuple of tuple of float
        Candidate values, one tuple per candidate, in the order of ``parameters``.
    """

    parameters: tuple[str, ...]
    category: str
    grid: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        params = (self.parameters,) if isinstance(self.parameters, str) else tuple(self.parameters)
        object.__setattr__(self, "parameters", params)
        bad = [p for p in params if p not in FITTABLE]
        if bad or not params:
            raise InputError(f"cannot fit {bad or params!r}; fittable: {', '.join(FITTABLE)}")
        if self.category not in CATEGORIES:
            raise InputError(f"category must be one of {CATEGORIES}, got {self.category!r}")
        grid = tuple(tuple(float(x) for x in (g if isinstance(g, (tuple, list)) else (g,))) for g in self.grid)
        if not grid or any(len(g) != len(params) for g in grid):
            raise InputError(f"the grid of a fit must hold one value per parameter ({len(params)}) per candidate")
        object.__setattr__(self, "grid", grid)

    @classmethod
    def product(cls, category: str, **axes: Sequence[float]) -> Fit:
        """A fit over the Cartesian product of per-parameter value lists."""
        names = tuple(axes)
        grid = tuple(itertools.product(*(tuple(float(v) for v in axes[n]) for n in names)))
        return cls(names, category, grid)

    def to_dict(self) -> dict:
        """Plain-dict summary (parameters, category, per-parameter range) for provenance."""
        cols = list(zip(*self.grid))
        return {"parameters": list(self.parameters), "category": self.category, "candidates": len(self.grid),
                "ranges": {p: [min(c), max(c)] for p, c in zip(self.parameters, cols)}}


#: Config fields that :class:`Fit` may vary (they only change grading, not the kinematics).
FITTABLE: tuple[str, ...] = ("a_threshold_um_s", "b_threshold_um_s", "str_min", "lin_min", "motile_min_um")


def agreement(predicted: Sequence[float], reference: Sequence[float]) -> dict[str, float]:
    """MAE, Pearson r and Bland-Altman bias / limits of agreement of ``predicted`` against ``reference``.

    ``MAE = mean |p - r|``; ``r = cov(p, r) / (sd p sd r)`` (NaN if either is constant);
    ``bias = mean(p - r)``; limits ``bias -/+ 1.96 sd(p - r)`` (sample sd, ddof 1).
    """
    p = np.asarray(predicted, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if p.shape != r.shape or p.ndim != 1:
        raise InputError(f"predicted and reference must be equal-length 1-d sequences, got {p.shape} and {r.shape}")
    ok = np.isfinite(p) & np.isfinite(r)
    p, r = p[ok], r[ok]
    n = len(p)
    if n == 0:
        return {"n": 0, "mae": math.nan, "pearson_r": math.nan, "bias": math.nan, "loa_low": math.nan,
                "loa_high": math.nan}
    d = p - r
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    if n > 1 and p.std() > 0 and r.std() > 0:
        corr = float(np.corrcoef(p, r)[0, 1])
    else:
        corr = math.nan
    bias = float(d.mean())
    return {"n": n, "mae": float(np.abs(d).mean()), "pearson_r": corr, "bias": bias,
            "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd}


def with_values(config: KinematicsConfig, parameters: Sequence[str], values: Sequence[float]) -> KinematicsConfig:
    """``config`` with the given thresholds; a/b stay ordered (raising a with b, or lowering b with a)."""
    changes = {p: float(v) for p, v in zip(parameters, values)}
    a = changes.get("a_threshold_um_s", config.a_threshold_um_s)
    b = changes.get("b_threshold_um_s", config.b_threshold_um_s)
    if b > a:
        if "b_threshold_um_s" in changes:
            changes["a_threshold_um_s"] = b
        else:
            changes["b_threshold_um_s"] = a
    return config.replace(**changes)


class _Video:
    """One video's kinematics table reduced to the arrays grading needs (for fast threshold searches)."""

    def __init__(self, table: pd.DataFrame, config: KinematicsConfig):
        base = grade_table(table, config)
        self.graded = base["graded"].to_numpy(bool)
        t = base[self.graded]
        self.cols = {c: t[c].to_numpy(np.float64) for c in ("progression_um_s", "vap_um_s", "str", "lin",
                                                                  "motion_um", "noise_floor_um")}
        self.weight = (np.ones(len(t)) if config.weighting == "track" else t["n_points"].to_numpy(np.float64))

    def percent(self, config: KinematicsConfig, category: str) -> float:
        c = self.cols
        if len(self.weight) == 0 or self.weight.sum() <= 0:
            return math.nan
        speed = c["progression_um_s"] if config.grade_metric == "progression" else c["vap_um_s"]
        with np.errstate(invalid="ignore"):
            gate = np.ones(len(speed), bool)
            if config.str_min > 0:
                gate &= c["str"] >= config.str_min
            if config.lin_min > 0:
                gate &= c["lin"] >= config.lin_min
        grade = classify(speed, c["motion_um"], c["noise_floor_um"], a_threshold=config.a_threshold_um_s,
                         b_threshold=config.b_threshold_um_s, motile_min=config.motile_min_um, gate=gate)
        member = {"progressive": ("a", "b"), "non_progressive": ("c",), "immotile": ("d",)}[category]
        return 100.0 * float(self.weight[np.isin(grade, member)].sum() / self.weight.sum())


def predict_percentages(tables: Mapping[object, pd.DataFrame], config: KinematicsConfig) -> pd.DataFrame:
    """Regrade each video's kinematics table under ``config``; one row per video with the percentages.

    Columns: ``a, b, c, d, progressive, non_progressive, immotile, motile`` (NaN when nothing is graded),
    index the video ids.
    """
    rows = {}
    for vid, table in tables.items():
        pct = motility_percentages(grade_table(table, config), weighting=config.weighting)["percent"]
        rows[vid] = {k: (math.nan if v is None else v) for k, v in pct.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def _candidate_arrays(config: KinematicsConfig, fit: Fit) -> dict[str, np.ndarray]:
    """Per-candidate threshold arrays (length K) for every fittable field, a/b kept ordered as in
    :func:`with_values`."""
    k = len(fit.grid)
    out = {p: np.full(k, float(getattr(config, p))) for p in FITTABLE}
    values = np.asarray(fit.grid, dtype=np.float64)
    for j, p in enumerate(fit.parameters):
        out[p] = values[:, j].copy()
    a, b = out["a_threshold_um_s"], out["b_threshold_um_s"]
    swap = b > a
    if "b_threshold_um_s" in fit.parameters:
        a[swap] = b[swap]
    else:
        b[swap] = a[swap]
    return out


def _grid_matrix(videos: Sequence[_Video], config: KinematicsConfig, fit: Fit) -> np.ndarray:
    """Percent of ``fit.category`` per video (rows) and candidate (columns), vectorised over candidates.

    Equivalent to grading each video under ``with_values(config, fit.parameters, candidate)`` with
    :func:`spermtrack.kinematics.grades.classify` (the tests check this).
    """
    cand = _candidate_arrays(config, fit)
    out = np.full((len(videos), len(fit.grid)), np.nan)
    for i, v in enumerate(videos):
        if len(v.weight) == 0 or v.weight.sum() <= 0:
            continue
        c = v.cols
        speed = (c["progression_um_s"] if config.grade_metric == "progression" else c["vap_um_s"])[:, None]
        with np.errstate(invalid="ignore"):
            gate = np.ones((len(v.weight), 1), bool)
            gate = gate & ((cand["str_min"] <= 0) | (c["str"][:, None] >= cand["str_min"]))
            gate = gate & ((cand["lin_min"] <= 0) | (c["lin"][:, None] >= cand["lin_min"]))
            progressive = gate & (speed >= cand["b_threshold_um_s"])
            floor = np.nan_to_num(c["noise_floor_um"], nan=0.0)[:, None]
            motile = (c["motion_um"][:, None] > floor) & (c["motion_um"][:, None] >= cand["motile_min_um"])
        if fit.category == "progressive":
            member = progressive
        elif fit.category == "non_progressive":
            member = ~progressive & motile
        else:
            member = ~progressive & ~motile
        out[i] = 100.0 * (v.weight @ member) / v.weight.sum()
    return out


def _best(matrix: np.ndarray, ref: np.ndarray, rows: np.ndarray) -> tuple[int, float]:
    """Candidate with the smallest MAE over ``rows``; among ties the median one (grid order)."""
    mae = np.nanmean(np.abs(matrix[rows] - ref[rows, None]), axis=0)
    best = np.flatnonzero(mae <= np.nanmin(mae) + 1e-9)
    k = int(best[len(best) // 2])
    return k, float(mae[k])


def fit_threshold(tables: Mapping[object, pd.DataFrame], reference: pd.DataFrame, config: KinematicsConfig,
                  fit: Fit) -> tuple[KinematicsConfig, float]:
    """Grid-search thresholds to minimise the MAE of one category over the given videos.

    Among candidates with the smallest MAE (a plateau, as percentages move in steps), the median one
    in grid order is taken. Returns the config with the fitted values and that MAE.
    """
    ids = [v for v in tables if v in reference.index]
    if not ids:
        raise InputError("no video has both a kinematics table and a reference")
    videos = [_Video(tables[v], config) for v in ids]
    ref = reference.loc[ids, fit.category].to_numpy(np.float64)
    k, mae = _best(_grid_matrix(videos, config, fit), ref, np.arange(len(ids)))
    return with_values(config, fit.parameters, fit.grid[k]), mae


def fit_config(tables: Mapping[object, pd.DataFrame], reference: pd.DataFrame, config: KinematicsConfig,
               fits: Sequence[Fit]) -> KinematicsConfig:
    """Fit several groups of thresholds one after the other (each given the ones before)."""
    for fit in fits:
        config, _ = fit_threshold(tables, reference, config, fit)
    return config


def leave_one_out(tables: Mapping[object, pd.DataFrame], reference: pd.DataFrame, config: KinematicsConfig,
                  fits: Sequence[Fit]) -> pd.DataFrame:
    """Leave-one-video-out predictions: video k is graded with thresholds fitted on the others only.

    Returns
    -------
    pandas.DataFrame
        One row per video: the fitted parameter values, the predicted ``progressive, non_progressive,
        immotile`` and the reference ones (``ref_`` prefix).
    """
    ids = [v for v in tables if v in reference.index]
    if len(ids) < 2:
        raise InputError("leave-one-out needs at least two videos with a reference")
    videos = [_Video(tables[v], config) for v in ids]
    n = len(ids)
    configs = [config] * n
    first = None
    for stage, fit in enumerate(fits):
        ref = reference.loc[ids, fit.category].to_numpy(np.float64)
        if stage == 0:
            first = _grid_matrix(videos, config, fit)
        for i in range(n):
            train = np.array([j for j in range(n) if j != i])
            matrix = first if stage == 0 else _grid_matrix(videos, configs[i], fit)
            k, _ = _best(matrix, ref, train)
            configs[i] = with_values(configs[i], fit.parameters, fit.grid[k])
    rows = {}
    for i, vid in enumerate(ids):
        row = {p: getattr(configs[i], p) for fit in fits for p in fit.parameters}
        for c in CATEGORIES:
            row[c] = videos[i].percent(configs[i], c)
        row.update({f"ref_{c}": float(reference.loc[vid, c]) for c in CATEGORIES})
        rows[vid] = row
    return pd.DataFrame.from_dict(rows, orient="index")
