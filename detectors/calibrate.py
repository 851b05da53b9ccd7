"""Score calibration: one meaning of ``score`` for every detector.

The tracker decides from scores (births at ``birth_score``, the two ByteTrack stages at
``high_score`` and ``low_score``), so a score must mean the same whatever produced it. A raw
score does not: the blob detector's ``tanh`` of a contrast ratio, a YOLO checkpoint's
confidence after a given training, and another checkpoint's all live on different scales.

A :class:`ScoreCalibration` maps a raw score ``s`` to the probability that the detection is a
labelled object (matched one-to-one within a centre distance on labelled frames), by Platt
scaling on the logit of the score (Platt 1999; Niculescu-Mizil & Caruana 2005):

``p = sigmoid(slope * logit(s) + intercept)``, with ``logit(s) = log(s / (1 - s))`` and ``s``
clipped to ``[1e-6, 1 - 1e-6]``.

With ``slope > 0`` the map is increasing, so the order of detections (and a detector's
precision-recall curve, mAP) is unchanged; only the thresholds mean the same everywhere.
:func:`fit_score_calibration` fits ``slope`` and ``intercept`` by maximum likelihood
(Newton-Raphson on the logistic log-likelihood) from raw scores and true/false labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spermtrack._validate import Config
from spermtrack.errors import InputError

__all__ = ["ScoreCalibration", "fit_logistic", "fit_score_calibration"]

_EPS = 1e-6


def _logit(scores: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(scores, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(s) - np.log1p(-s)


@dataclass(frozen=True)
class ScoreCalibration(Config):
    """``p = sigmoid(slope * logit(score) + intercept)`` (see the module docstring).

    Parameters
    ----------
    slope : float
        Positive gain on the logit of the raw score.
    intercept : float
        Offset on the logit scale.
    n : int
        Detections the calibration was fitted on (0 for the identity).
    source : str
        What it was fitted on, for provenance.
    """

    slope: float = 1.0
    intercept: float = 0.0
    n: int = 0
    source: str = "identity"

    def __post_init__(self) -> None:
        self._number("slope", lo=0, lo_open=True, hi=1e3)
        self._number("intercept", lo=-1e3, hi=1e3)
        self._integer("n", lo=0)
        if not isinstance(self.source, str):
            raise self._fail("source", "a string")

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated scores (same shape), in (0, 1)."""
        z = self.slope * _logit(scores) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def invert(self, probability: float) -> float:
        """The raw score whose calibrated value is ``probability`` (for thresholds on the raw scale).

        Raw scores are clipped to ``[1e-6, 1 - 1e-6]`` before calibration, so the result is too.
        """
        p = min(max(float(probability), _EPS), 1.0 - _EPS)
        z = (math.log(p / (1.0 - p)) - self.intercept) / self.slope
        return min(max(1.0 / (1.0 + math.exp(-min(max(z, -700.0), 700.0))), _EPS), 1.0 - _EPS)


def fit_logistic(features: np.ndarray, is_true: np.ndarray, *, l2: float = 1e-6, max_iter: int = 100) -> np.ndarray:
    """Logistic regression by damped Newton-Raphson (iteratively reweighted least squares).

    Maximises ``sum_i y_i log p_i + (1 - y_i) log(1 - p_i) - l2/2 |beta|^2`` with
    ``p_i = sigmoid(features_i . w + b)``.

    Parameters
    ----------
    features : numpy.ndarray, shape (n, k)
        One row per example.
    is_true : numpy.ndarray of bool, shape (n,)
        Labels.
    l2 : float
        Ridge penalty on all coefficients (keeps the Hessian invertible when classes separate).
    max_iter : int
        Newton iterations at most (stops when no coefficient moves by more than 1e-9).

    Returns
    -------
    numpy.ndarray, shape (k + 1,)
        ``w_1 .. w_k, b``.
    """
    x = np.column_stack([np.asarray(features, dtype=np.float64), np.ones(len(features))])
    y = np.asarray(is_true, dtype=np.float64)

    def objective(b: np.ndarray) -> float:
        z = x @ b
        return float(np.sum(y * z - np.logaddexp(0.0, z)) - 0.5 * l2 * np.dot(b, b))

    beta = np.zeros(x.shape[1])  # p = 1/2 everywhere: a well-conditioned start
    value = objective(beta)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -700.0, 700.0)))
        grad = x.T @ (y - p) - l2 * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        for _ in range(50):  # halve the Newton step until the log-likelihood does not fall
            candidate = beta + step
            new = objective(candidate)
            if new >= value - 1e-12:
                break
            step = step / 2.0
        beta, value = candidate, new
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta


def fit_score_calibration(scores: np.ndarray, is_true: np.ndarray, *, source: str = "",
                          max_iter: int = 100) -> ScoreCalibration:
    """Fit Platt scaling on the logit of raw scores.

    Maximises ``sum_i y_i log p_i + (1 - y_i) log(1 - p_i)`` with ``p_i = sigmoid(a z_i + b)``,
    ``z_i = logit(s_i)``, by Newton-Raphson (a tiny ridge of 1e-6 keeps the Hessian invertible).

    Parameters
    ----------
    scores : numpy.ndarray
        Raw detector scores in [0, 1].
    is_true : numpy.ndarray of bool
        Whether each detection matched a labelled object.
    source : str
        Provenance text stored in the result.
    max_iter : int
        Newton iterations at most.

    Returns
    -------
    ScoreCalibration

    Raises
    ------
    InputError
        Fewer than 20 detections, only true or only false ones, mismatched lengths, scores
        outside [0, 1], or scores that do not rank true detections above false ones (a fitted
        slope that is not positive).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_true, dtype=bool).ravel().astype(np.float64)
    if s.shape != y.shape:
        raise InputError(f"scores ({s.size}) and labels ({y.size}) differ in length")
    if s.size < 20:
        raise InputError(f"a score calibration needs at least 20 detections, got {s.size}")
    if not np.all(np.isfinite(s)) or s.min() < 0 or s.max() > 1:
        raise InputError("scores must be finite and in [0, 1]")
    if y.min() == y.max():
        raise InputError("a score calibration needs both true and false detections; got only "
                         f"{'true' if y[0] else 'false'} ones")
    beta = fit_logistic(_logit(s)[:, None], y, max_iter=max_iter)
    if not beta[0] > 0:
        raise InputError(f"the scores do not rank true detections above false ones (fitted slope {beta[0]:.3g})")
    return ScoreCalibration(slope=float(beta[0]), intercept=float(beta[1]), n=int(s.size), source=source)
