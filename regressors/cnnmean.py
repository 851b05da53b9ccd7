"""``cnnmean``: the mean of the CNN regressors' predictions (flow2d, r3d18 and aefeat by default).

The three seed-paper networks read different things (optical flow, raw frame stacks, autoencoder trails)
and err differently, so their mean is closer to the truth than any one of them: on the recipe's
validation set 5.97 points against 6.26 for the best alone, on its held-out test set 5.82 against 6.53
(``regressors/weights/README.md``). A plain average, not a learnt stack: a weighting fitted on 60
validation videos would be tuned to them.

A checkpoint holds each member's settings and fitted state under ``<member>.config`` and
``<member>.<key>``. The shipped checkpoint instead refers to the shipped members' checkpoints by name
and SHA-256 (``<member>.shipped``, :func:`shipped_reference`), so that it copies no weights and refuses
to load once a member has been replaced after the mean's validation numbers were measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spermtrack._validate import Config
from spermtrack.errors import InputError
from spermtrack.extras import file_sha256
from spermtrack.regressors.base import THREE, Regressor, VideoInputs

__all__ = ["CNN_MEMBERS", "CNNMean", "CNNMeanConfig", "shipped_reference"]

CNN_MEMBERS: tuple[str, ...] = ("flow2d", "r3d18", "aefeat")


@dataclass(frozen=True)
class CNNMeanConfig(Config):
    """Settings of ``cnnmean``.

    Parameters
    ----------
    members : tuple of str
        The CNNs averaged: two or three of ``flow2d``, ``r3d18``, ``aefeat``, each once.
    quick : bool
        Train the members with their small settings (tests, ``--quick``).
    seed : int
        Seed of every member's training.
    """

    members: tuple = CNN_MEMBERS
    quick: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        members = self.members
        if isinstance(members, str) or not isinstance(members, (list, tuple)):
            raise self._fail("members", "a list of regressor names")
        members = tuple(members)
        if len(members) < 2 or len(set(members)) != len(members) or not set(members) <= set(CNN_MEMBERS):
            raise self._fail("members", f"two or three different names of {', '.join(CNN_MEMBERS)}")
        self._set("members", members)
        self._boolean("quick")
        self._integer("seed", lo=0)


def shipped_reference(members: tuple[str, ...] = CNN_MEMBERS) -> dict:
    """The state of a ``cnnmean`` that averages the shipped checkpoints of ``members`` (name -> SHA-256)."""
    from spermtrack.regressors import packaged_checkpoint

    return {f"{m}.shipped": file_sha256(packaged_checkpoint(m)) for m in members}


class CNNMean(Regressor):
    """The mean of its members' predicted proportions (see the module notes).

    Trained here, the members train one after the other with their default settings (not the shipped recipes'
    :data:`~spermtrack.training.regressors.MODEL_RECIPES`) and keep their last epoch: ``fit`` does not call
    ``on_epoch``. It needs flow and frames whichever members it has (callers read the class's :attr:`needs`).
    """

    name = "cnnmean"
    needs = ("flow", "frames")  # every member's (flow2d: flow; r3d18, aefeat: frames)
    Config = CNNMeanConfig
    quick = {"quick": True}

    def __init__(self, categories: Sequence[str] = THREE, **options) -> None:
        super().__init__(categories, **options)
        self.members_: dict[str, Regressor] = {}
        self.reference_: dict | None = None  # the shipped members' names and hashes, when loaded from them

    def _member(self, name: str, options: dict | None = None) -> Regressor:
        from spermtrack.regressors import make_regressor

        return make_regressor(name, self.categories, quick=self.config.quick, **(options or {}))

    def frames_needed(self) -> int:
        """The most frames any member needs."""
        members = self.members_ or {m: self._member(m) for m in self.config.members}
        return max(model.frames_needed() for model in members.values())

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        self.reference_ = None
        self.members_ = {m: self._member(m, {"seed": self.config.seed}).fit(inputs, targets, progress=progress)
                         for m in self.config.members}

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        return np.mean([model.predict(inputs) for model in self.members_.values()], axis=0)

    def state(self) -> dict:
        """The members' settings and states; for a mean of shipped checkpoints, their names and hashes."""
        if self.reference_ is not None:
            return dict(self.reference_)
        out = {f"{m}.{key}": value for m, model in self.members_.items() for key, value in model.state().items()}
        out.update({f"{m}.config": model.config.to_dict() for m, model in self.members_.items()})
        return out

    def _load_state(self, state: dict) -> None:
        from spermtrack.regressors import load_regressor, packaged_checkpoint

        members = {}
        for m in self.config.members:
            if f"{m}.shipped" in state:
                path = packaged_checkpoint(m)
                if file_sha256(path) != state[f"{m}.shipped"]:
                    raise InputError(f"the shipped {m} checkpoint is not the one this mean was measured with "
                                     f"(reinstall spermtrack, or ship the mean again: python -m "
                                     f"spermtrack.training.regressors mean --work W)")
                model, _ = load_regressor(path, expect=m)
                if model.categories != self.categories:
                    raise InputError(f"the shipped {m} predicts {model.categories}, not {self.categories}")
            else:
                options = self._state_entry(state, f"{m}.config")
                if not isinstance(options, dict):
                    raise InputError(f"its state's '{m}.config' is not a dict of settings")
                model = self._member(m, options)
                prefix = f"{m}."
                try:
                    model._load_state({k[len(prefix):]: v for k, v in state.items()
                                       if k.startswith(prefix) and k != f"{m}.config"})
                except InputError as exc:
                    raise InputError(f"member {m}: {exc}") from None
                model.fitted = True
            members[m] = model
        self.members_ = members
        refs = {f"{m}.shipped": state[f"{m}.shipped"] for m in members if f"{m}.shipped" in state}
        self.reference_ = refs if len(refs) == len(members) else None
