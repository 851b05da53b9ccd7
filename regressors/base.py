"""What every motility regressor shares: its inputs, its interface, its checkpoint, the simplex.

A regressor maps one video to the proportions of WHO motility categories, either the three a lab
reports (``progressive``, ``non_progressive``, ``immotile``) or the four grades (``a``, ``b``, ``c``,
``d``). Predictions are proportions: non-negative, each row summing to 1.

Inputs
------
:class:`VideoInputs` holds what a model may read about one video, prepared by the caller (decoding and
caching are I/O and live in :mod:`spermtrack.crosscheck`): evenly spaced downsized grayscale frames,
dense optical-flow images in physical units, and the per-track kinematics of the tracking path. Each
model names the fields it needs in :attr:`Regressor.needs`, so the caller prepares only those.

Checkpoints
-----------
:meth:`Regressor.save` writes ``torch.save`` of plain types only (tensors, lists, dicts, str, numbers):
``{"format": "spermtrack-regressor", "version": 1, "model": name, "categories": [...], "config": {...},
"inputs": {...}, "state": {...}, "info": {...}}``; :func:`load_regressor` reads it with
``torch.load(..., weights_only=True)`` (nothing in the file can run code) and refuses, in one line,
a file that is not such a checkpoint, of another format version, or of another model than asked, and a
checkpoint whose model name, categories, settings or fitted state are malformed or do not fit each
other (each model's ``_load_state`` checks the names, shapes and values of its state).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from spermtrack.constants import GRADES
from spermtrack.errors import InputError
from spermtrack.eval.agreement import CATEGORIES

__all__ = ["CATEGORY_SETS", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "FLOW_CHANNELS", "FOUR", "THREE", "Regressor", "VideoInputs",
           "project_to_simplex", "three_from_four"]

#: The lab's three WHO categories.
THREE: tuple[str, ...] = CATEGORIES
#: The four WHO grades.
FOUR: tuple[str, ...] = GRADES
#: The category sets a regressor can predict.
CATEGORY_SETS: tuple[tuple[str, ...], ...] = (THREE, FOUR)
CHECKPOINT_FORMAT = "spermtrack-regressor"
CHECKPOINT_VERSION = 2  # 2: flow images of FLOW_CHANNELS channels
#: Channels of a flow image (:attr:`VideoInputs.flow`).
FLOW_CHANNELS = 8


@dataclass
class VideoInputs:
    """What a regressor may read about one video (any field may be None when no model needs it).

    Attributes
    ----------
    video_id : str
    frames : numpy.ndarray or None
        ``(n, H, W)`` uint8 grayscale frames, downsized, every ``frame_step``-th frame of the video.
    frame_step_s : float
        Time between two of these frames, s.
    flow : numpy.ndarray or None
        ``(p, FLOW_CHANNELS, h, w)`` float32 dense optical flow at ``p`` times spread over the video
        (:func:`spermtrack.crosscheck.inputs.frames_and_flow`): averaged over each pixel's block, x and y
        velocity and speed over 0.1 s (units of 10 um/s), where cells are, moving or not (local contrast
        in units of the background noise), and the speed over 0.5 s; as the block's maximum, the two
        speeds and the presence.
    kinematics : pandas.DataFrame or None
        One row per track of the tracking path (:func:`spermtrack.kinematics.analyze_tracks` table).
    """

    video_id: str
    frames: np.ndarray | None = None
    frame_step_s: float = 0.0
    flow: np.ndarray | None = None
    kinematics: pd.DataFrame | None = None


def project_to_simplex(values: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row onto the probability simplex (Duchi et al. 2008).

    ``argmin_p ||p - v||`` subject to ``p >= 0`` and ``sum p = 1``: with ``u`` the row sorted in
    decreasing order and ``rho`` the largest ``j`` with ``u_j - (sum_{i<=j} u_i - 1) / j > 0``,
    ``p = max(v - theta, 0)`` where ``theta = (sum_{i<=rho} u_i - 1) / rho``.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, k)`` or ``(k,)`` real values.

    Returns
    -------
    numpy.ndarray
        Same shape; every row non-negative with sum 1.
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    u = -np.sort(-v, axis=1)
    css = np.cumsum(u, axis=1) - 1.0
    j = np.arange(1, v.shape[1] + 1)
    rho = np.count_nonzero(u - css / j > 0, axis=1)
    theta = css[np.arange(len(v)), rho - 1] / rho
    out = np.maximum(v - theta[:, None], 0.0)
    return out.reshape(np.shape(values))


def three_from_four(props: np.ndarray) -> np.ndarray:
    """``(a, b, c, d)`` proportions to ``(progressive, non_progressive, immotile) = (a + b, c, d)``."""
    p = np.asarray(props, dtype=np.float64)
    return np.stack([p[..., 0] + p[..., 1], p[..., 2], p[..., 3]], axis=-1)


class Regressor:
    """The interface of every motility regressor: ``fit``, ``predict``, ``save``, ``load``.

    Subclasses set :attr:`name`, :attr:`needs`, :attr:`Config` (a frozen
    :class:`~spermtrack._validate.Config`) and :attr:`quick` (options for a fast run in tests), and
    implement :meth:`_fit`, :meth:`_predict`, :meth:`state` and :meth:`_load_state`.

    Parameters
    ----------
    categories : sequence of str
        :data:`THREE` or :data:`FOUR`: what the model predicts, in that order.
    **options
        Settings of the model's ``Config``.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type] = None  # type: ignore[assignment]
    quick: ClassVar[dict[str, Any]] = {}

    def __init__(self, categories: Sequence[str] = THREE, **options: Any) -> None:
        categories = tuple(categories)
        if categories not in CATEGORY_SETS:
            raise InputError(f"{self.name}: categories must be {THREE} or {FOUR}, got {categories}")
        self.categories = categories
        self.config = self.Config.from_dict(options)
        self.fitted = False

    # ----------------------------------------------------------------------------------- interface
    def fit(self, inputs: Sequence[VideoInputs], targets: np.ndarray, *, progress: bool = False,
            on_epoch=None) -> Regressor:
        """Fit on videos and their true proportions.

        Parameters
        ----------
        inputs : sequence of VideoInputs
            One per training video, with the fields in :attr:`needs`.
        targets : numpy.ndarray
            ``(n_videos, len(categories))`` proportions (rows summing to 1).
        progress : bool
            Show a progress bar over epochs.
        on_epoch : callable, optional
            For a model trained in epochs (the CNNs): ``on_epoch(epoch, loss) -> bool`` is called after
            each epoch with the network in evaluation mode (so it may predict, e.g. a validation set,
            and keep the best :meth:`state`); True stops the training. Models fitted in closed form
            never call it.

        Returns
        -------
        Regressor
            ``self``.
        """
        y = self._check_targets(targets, len(inputs))
        self._check_inputs(inputs)
        self.fitted = on_epoch is not None  # a monitor predicts between epochs
        try:
            self._fit(list(inputs), y, progress=progress, on_epoch=on_epoch)
        except BaseException:
            self.fitted = False
            raise
        self.fitted = True
        return self

    def predict(self, inputs: Sequence[VideoInputs]) -> np.ndarray:
        """Predicted proportions, ``(n_videos, len(categories))``, rows on the simplex."""
        if not self.fitted:
            raise InputError(f"{self.name}: fit the model (or load a checkpoint) before predicting")
        self._check_inputs(inputs)
        if not len(inputs):
            return np.zeros((0, len(self.categories)))
        return project_to_simplex(np.asarray(self._predict(list(inputs)), dtype=np.float64))

    def frames_needed(self) -> int:
        """Frames of :attr:`VideoInputs.frames` one prediction needs (for a model that reads ``frames``).

        2 by default (the fewest that show motion); a model that reads clips or windows of frames says
        how long they are.
        """
        return 2

    def save(self, path: str | os.PathLike, *, inputs: dict | None = None, info: dict | None = None) -> Path:
        """Write the checkpoint (see the module notes), atomically.

        Parameters
        ----------
        path : str or PathLike
            The ``.pt`` file.
        inputs : dict, optional
            How the inputs were prepared (frame size, steps, ...), so that prediction prepares the same.
        info : dict, optional
            Provenance (data set, folds, versions, metrics) of plain types.
        """
        if not self.fitted:
            raise InputError(f"{self.name}: nothing to save, the model is not fitted")
        payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": self.name,
                   "categories": list(self.categories), "config": self.config.to_dict(),
                   "inputs": dict(inputs or {}), "state": self.state(), "info": dict(info or {})}
        path = Path(path)
        from spermtrack.regressors.torchfit import save_checkpoint

        return save_checkpoint(payload, path)

    # ------------------------------------------------------------------------------ for subclasses
    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        raise NotImplementedError

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict:
        """The fitted parameters, as plain types and tensors."""
        raise NotImplementedError

    def _load_state(self, state: dict) -> None:
        """Set the fitted parameters from :meth:`state`'s output; raise InputError saying what does not fit."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------------- checks
    @staticmethod
    def _state_entry(state: dict, key: str) -> Any:
        """``state[key]``; InputError naming what the state holds when it is missing."""
        if key not in state:
            raise InputError(f"its state has no {key!r} (it holds {', '.join(map(repr, state)) or 'nothing'})")
        return state[key]

    def _state_array(self, state: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """``state[key]`` (a tensor or a list) as a finite float64 array of ``shape``.

        Raises
        ------
        InputError
            The key is missing, the value is not numeric, has another shape or holds NaN or infinity.
        """
        value = self._state_entry(state, key)
        try:
            array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
        except (TypeError, ValueError, RuntimeError):
            raise InputError(f"its state's {key!r} is not an array of numbers") from None
        if array.shape != tuple(shape):
            raise InputError(f"its state's {key!r} has shape {array.shape}, the model needs {tuple(shape)}")
        if not np.isfinite(array).all():
            raise InputError(f"its state's {key!r} holds NaN or infinite values")
        return array

    def _check_targets(self, targets: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(targets, dtype=np.float64)
        if y.shape != (n, len(self.categories)):
            raise InputError(f"{self.name}: targets must have shape ({n}, {len(self.categories)}), got {y.shape}")
        if n == 0:
            raise InputError(f"{self.name}: no training video")
        if not np.isfinite(y).all() or (y < -1e-9).any() or not np.allclose(y.sum(axis=1), 1.0, atol=1e-3):
            raise InputError(f"{self.name}: targets must be proportions (non-negative rows summing to 1)")
        return np.clip(y, 0.0, 1.0)

    def _check_inputs(self, inputs: Sequence[VideoInputs]) -> None:
        for item in inputs:
            for need in self.needs:
                value = getattr(item, need)
                if value is None or (isinstance(value, np.ndarray) and value.size == 0):
                    raise InputError(f"{self.name}: video {item.video_id} has no {need} (the model needs "
                                     f"{', '.join(self.needs)})")
