"""Peer detectors from other projects, behind the same protocol as ours (optional dependencies).

``trackpy`` (:class:`TrackpyLocator`)
    The Crocker-Grier feature locator of trackpy (Allan et al., ``trackpy.locate``): band-pass,
    local maxima of a given ``diameter``, integrated brightness ("mass") above ``minmass``,
    refined centroids. It comes with the ``peers`` extra (``pip install spermtrack[peers]``).
    Boxes get the mean VISEM-Tracking label size; every object is class 0 (trackpy has no
    classes). trackpy's mass is not a probability: ``score = 1 / (1 + (mass_half / mass)^mass_slope)``
    (a logistic on log mass, 0.5 at ``mass_half``) maps it to the probability that a feature is a
    labelled object, with ``mass_half`` and ``mass_slope`` fitted by logistic regression on real
    VISEM-Tracking video 11 frames 0-1028, every 10th frame, at the default ``diameter`` and
    ``minmass`` (``python -m spermtrack.training.recipes trackpy --work WORK --visem
    ../shared/reference/visem_real`` prints the fit), so that the tracker's score thresholds mean
    the same for trackpy as for the other detectors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.detectors.base import FrameDetector, detections_table, to_gray
from spermtrack.errors import InputError

__all__ = ["TrackpyConfig", "TrackpyLocator"]


@dataclass(frozen=True)
class TrackpyConfig(Config):
    """Settings of the trackpy peer detector.

    Parameters
    ----------
    diameter : int
        Feature diameter in px (odd); VISEM heads are 6-10 px.
    minmass : float
        Minimum integrated brightness of a feature (trackpy's main threshold).
    polarity : {'bright', 'dark'}
        trackpy finds bright features; ``'dark'`` inverts the frame first (bright field).
    box_px : float
        Box side given to every detection, px.
    mass_half : float
        Mass at which ``score = 0.5``.
    mass_slope : float
        Steepness of the score in log mass (1 gives ``mass / (mass + mass_half)``).
    """

    diameter: int = 9
    minmass: float = 500.0
    polarity: str = "bright"
    box_px: float = 22.0
    mass_half: float = 843.0
    mass_slope: float = 3.4

    def __post_init__(self) -> None:
        if self._integer("diameter", lo=3, hi=201) % 2 == 0:
            raise self._fail("diameter", "odd")
        self._number("minmass", lo=0)
        self._choice("polarity", ("bright", "dark"))
        self._number("box_px", lo=0, lo_open=True)
        self._number("mass_half", lo=0, lo_open=True)
        self._number("mass_slope", lo=0, lo_open=True, hi=100)


class TrackpyLocator(FrameDetector):
    """trackpy's locator as a frame detector (see the module docstring).

    Raises
    ------
    InputError
        trackpy is not installed, or an unknown or bad option.
    """

    name = "trackpy"

    def __init__(self, config: TrackpyConfig | None = None, **overrides) -> None:
        base = config if config is not None else TrackpyConfig()
        self.config = base.replace(**overrides) if overrides else base
        try:
            import trackpy
        except ImportError:
            raise InputError("the trackpy detector needs trackpy: pip install 'spermtrack[peers]'") from None
        trackpy.quiet()
        self._trackpy = trackpy

    @property
    def score_threshold(self) -> float:
        """The score of a feature at exactly ``minmass``."""
        return self.score_of_mass(self.config.minmass)

    def score_of_mass(self, mass: float | np.ndarray) -> float | np.ndarray:
        """``1 / (1 + (mass_half / mass)^mass_slope)`` (0 for a mass of 0)."""
        m = np.maximum(np.asarray(mass, dtype=np.float64), 1e-300)
        score = 1.0 / (1.0 + (self.config.mass_half / m) ** self.config.mass_slope)
        return float(score) if np.ndim(mass) == 0 else score

    def to_dict(self) -> dict:
        """Settings, for provenance."""
        return {"detector": self.name, **self.config.to_dict(), "trackpy": self._trackpy.__version__}

    def _detect_batch(self, frames: list[np.ndarray], indices: list[int]) -> list[pd.DataFrame]:
        cfg = self.config
        tables = []
        for frame, index in zip(frames, indices):
            gray = to_gray(frame)
            if cfg.polarity == "dark":
                gray = 255 - gray
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = self._trackpy.locate(gray, cfg.diameter, minmass=cfg.minmass, engine="python")
            n = len(found)
            x, y = found["x"].to_numpy(np.float64), found["y"].to_numpy(np.float64)
            score = self.score_of_mass(found["mass"].to_numpy(np.float64))
            side = np.full(n, cfg.box_px)
            tables.append(detections_table(index, x, y, side, side, score, np.zeros(n, dtype=np.int64)))
        return tables
