"""``trackfeat``: histograms of per-track kinematics -> ridge regression (the motilitAI idea).

Follows Ottl et al. 2022 (motilitAI: trackpy tracks of VISEM videos summarised into histograms of
motion features, then linear regression or SVR; MAE 7.31 points, the best published VISEM number).
Departures: the tracks come from spermtrack's own detector and tracker (the caller's tracking path,
``trackpy`` is one option there), the features are the CASA kinematics of graded tracks, and the
ridge penalty is chosen on the training videos by leave-one-out error (closed form, no test data).

Features per video (fractions of its graded sperm tracks in each bin; a video without graded tracks
has all zeros):

- net progression over 1 s (the WHO a/b criterion), um/s: 0, 2, 5, 10, 15, 20, 25, 35, 50, inf;
- VCL, um/s: 0, 5, 10, 20, 40, 60, 90, inf;
- LIN and STR: five equal bins on [0, 1];
- mean ALH, um: 0, 0.5, 1, 2, 4, inf.

Model: standardised features ``Z``, ``W = (Z^T Z + alpha I)^-1 Z^T (Y - mean Y)``, prediction
``mean Y + z W`` projected onto the simplex. ``alpha`` minimises the leave-one-out mean absolute
error ``|e_i / (1 - H_ii)|`` with ``H = Z (Z^T Z + alpha I)^-1 Z^T`` over :attr:`TrackFeatConfig.alphas`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.errors import InputError
from spermtrack.regressors.base import Regressor, VideoInputs

__all__ = ["FEATURE_BINS", "TrackFeatConfig", "TrackFeatures", "track_features"]

_INF = np.inf
#: Column of the kinematics table -> bin edges.
FEATURE_BINS: dict[str, tuple[float, ...]] = {
    "progression_um_s": (0, 2, 5, 10, 15, 20, 25, 35, 50, _INF),
    "vcl_um_s": (0, 5, 10, 20, 40, 60, 90, _INF),
    "lin": (0, 0.2, 0.4, 0.6, 0.8, _INF),
    "str": (0, 0.2, 0.4, 0.6, 0.8, _INF),
    "alh_mean_um": (0, 0.5, 1, 2, 4, _INF),
}


def track_features(kinematics: pd.DataFrame) -> np.ndarray:
    """The feature vector of one video (see the module notes).

    Parameters
    ----------
    kinematics : pandas.DataFrame
        Per-track kinematics with a ``graded`` column and the columns of :data:`FEATURE_BINS`.

    Returns
    -------
    numpy.ndarray
        ``(n_features,)`` fractions; each parameter's block sums to 1 (0 without graded tracks).
    """
    graded = kinematics[kinematics["graded"].astype(bool)] if len(kinematics) else kinematics
    parts = []
    for column, edges in FEATURE_BINS.items():
        counts = np.zeros(len(edges) - 1)
        if len(graded):
            values = np.clip(graded[column].to_numpy(np.float64), 0.0, None)
            values = values[np.isfinite(values)]
            counts = np.histogram(values, bins=np.asarray(edges, dtype=np.float64))[0].astype(np.float64)
        total = counts.sum()
        parts.append(counts / total if total else counts)
    return np.concatenate(parts)


@dataclass(frozen=True)
class TrackFeatConfig(Config):
    """Settings of ``trackfeat``.

    Parameters
    ----------
    alphas : tuple of float
        Ridge penalties tried (on standardised features); the leave-one-out error picks one.
    """

    alphas: tuple = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)

    def __post_init__(self) -> None:
        from spermtrack._validate import number

        if isinstance(self.alphas, (str, bytes)) or not len(self.alphas):
            raise self._fail("alphas", "a non-empty sequence of positive numbers")
        object.__setattr__(self, "alphas", tuple(number("TrackFeatConfig", "alphas", a, lo=0, lo_open=True)
                                                 for a in self.alphas))


def _ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights and hat-matrix diagonal of ridge regression on centred targets."""
    a = z.T @ z + alpha * np.eye(z.shape[1])
    w = np.linalg.solve(a, z.T @ y)
    hat = np.einsum("ij,ji->i", z, np.linalg.solve(a, z.T))
    return w, hat


class TrackFeatures(Regressor):
    """Kinematic histograms of the tracking path -> ridge regression (see the module notes)."""

    name = "trackfeat"
    needs = ("kinematics",)
    Config = TrackFeatConfig

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        x = np.stack([track_features(v.kinematics) for v in inputs])
        self.x_mean_, self.x_sd_ = x.mean(axis=0), x.std(axis=0)
        self.x_sd_[self.x_sd_ < 1e-9] = 1.0
        z = (x - self.x_mean_) / self.x_sd_
        self.y_mean_ = targets.mean(axis=0)
        yc = targets - self.y_mean_
        best = None
        for alpha in self.config.alphas:
            w, hat = _ridge(z, yc, alpha)
            loo = (yc - z @ w) / np.maximum(1.0 - hat, 1e-6)[:, None]
            err = float(np.abs(loo).mean())
            if best is None or err < best[0]:
                best = (err, alpha, w)
        self.loo_mae_, self.alpha_, self.w_ = best

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        x = np.stack([track_features(v.kinematics) for v in inputs])
        return self.y_mean_ + ((x - self.x_mean_) / self.x_sd_) @ self.w_

    def state(self) -> dict:
        import torch

        return {name: torch.as_tensor(getattr(self, f"{name}_")) for name in ("x_mean", "x_sd", "y_mean", "w")} | {
            "alpha": float(self.alpha_), "loo_mae": float(self.loo_mae_)}

    def _load_state(self, state: dict) -> None:
        n, k = sum(len(edges) - 1 for edges in FEATURE_BINS.values()), len(self.categories)
        for name, shape in (("x_mean", (n,)), ("x_sd", (n,)), ("y_mean", (k,)), ("w", (n, k))):
            setattr(self, f"{name}_", self._state_array(state, name, shape))
        if (self.x_sd_ <= 0).any():
            raise InputError("its state's 'x_sd' holds a standard deviation <= 0")
        self.alpha_ = float(self._state_array(state, "alpha", ()))
        self.loo_mae_ = float(self._state_array(state, "loo_mae", ())) if "loo_mae" in state else float("nan")
