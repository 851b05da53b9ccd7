"""``zeror``: predict the mean of the training targets for every video.

The baseline of Haugen et al. 2023 (ZeroR: MAE 0.09 / 0.10 on VISEM for 3 / 4 categories): a model
that does not beat it has learnt nothing from the video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spermtrack._validate import Config
from spermtrack.regressors.base import Regressor, VideoInputs

__all__ = ["ZeroR", "ZeroRConfig"]


@dataclass(frozen=True)
class ZeroRConfig(Config):
    """``zeror`` has no setting."""


class ZeroR(Regressor):
    """The mean training proportions, whatever the video."""

    name = "zeror"
    needs = ()
    Config = ZeroRConfig

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        self.mean_ = targets.mean(axis=0)

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        return np.tile(self.mean_, (len(inputs), 1))

    def state(self) -> dict:
        return {"mean": [float(v) for v in self.mean_]}

    def _load_state(self, state: dict) -> None:
        self.mean_ = self._state_array(state, "mean", (len(self.categories),))
