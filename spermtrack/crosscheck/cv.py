"""Cross-validation of a motility regressor over the videos of a data set, and its agreement metrics.

Folds split by video (:func:`spermtrack.regressors.kfold_by_video`): each video is predicted once, by
the model fitted on the other folds. Metrics compare the out-of-fold predictions with the truth per
category (:func:`spermtrack.eval.agreement.grade_agreement`: MAE, RMSE, Pearson r and p, Bland-Altman
bias and 95 % limits), in percentage points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX

__all__ = ["CVResult", "agreement_table", "checkpoint_info", "cross_validate", "outside_training", "prepare_all",
           "seeded_regressor", "shipped_predictions"]


@dataclass
class CVResult:
    """Out-of-fold predictions of one model.

    Attributes
    ----------
    model : str
    predictions : pandas.DataFrame
        Indexed by video id, the data set's categories, proportions.
    seconds : float
        Time to fit and predict every fold (inputs prepared beforehand).
    folds : list of list of str
        The test videos of each fold.
    """

    model: str
    predictions: pd.DataFrame
    seconds: float
    folds: list[list[str]]

    def percent(self) -> pd.DataFrame:
        """The predictions in percent as the three lab categories."""
        from spermtrack.regressors import FOUR, THREE, three_from_four

        values = self.predictions.to_numpy()
        if tuple(self.predictions.columns) == FOUR:
            values = three_from_four(values)
        return pd.DataFrame(100.0 * values, index=self.predictions.index, columns=list(THREE))


def prepare_all(data, settings, needs: set[str], *, um_per_px: float = VISEM_UM_PER_PX, cache_dir=None,
                progress: bool = False) -> dict:
    """:func:`~spermtrack.crosscheck.inputs.prepare_inputs` for every video of ``data`` (id -> Prepared).

    ``um_per_px`` is the pixel size of the data set's videos (VISEM-Tracking's by default); the frame
    rate is read from each video.
    """
    from tqdm.auto import tqdm

    from spermtrack.crosscheck.inputs import prepare_inputs
    from spermtrack.io.visem import read_visem_video

    out = {}
    for folder in tqdm(data.folders, desc="prepare videos", unit="video", disable=not progress):
        video = read_visem_video(folder, um_per_px=um_per_px)
        out[video.video_id] = prepare_inputs(video, settings, needs, cache_dir=cache_dir, progress=progress)
    return out


def cross_validate(name: str, prepared: dict, data, *, folds: int, seed: int = 0, quick: bool = False,
                   progress: bool = False, **options) -> CVResult:
    """Fit ``name`` on all but one fold and predict that fold, for every fold.

    Parameters
    ----------
    name : str
        A regressor of :data:`spermtrack.regressors.REGRESSORS`.
    prepared : dict
        Video id -> :class:`~spermtrack.crosscheck.inputs.Prepared` (see :func:`prepare_all`).
    data : RegressionData
        Videos and targets.
    folds : int
        Number of folds (>= 2, <= number of videos).
    seed : int
        Seed of the fold split and of the models.
    quick : bool
        The models' small settings.
    progress : bool
        Show progress bars.
    **options
        Settings of the model.

    Returns
    -------
    CVResult
    """
    from tqdm.auto import tqdm

    from spermtrack.regressors import kfold_by_video

    ids = data.video_ids
    inputs = [prepared[v].inputs for v in ids]
    y = data.targets.loc[ids].to_numpy()
    split = kfold_by_video(ids, folds, seed=seed)
    pred = np.full(y.shape, np.nan)
    start = time.perf_counter()
    for train, test in tqdm(split, desc=f"{name}: folds", unit="fold", disable=not progress, leave=False):
        model = seeded_regressor(name, data.categories, seed=seed, quick=quick, **options)
        model.fit([inputs[i] for i in train], y[train], progress=progress)
        pred[test] = model.predict([inputs[i] for i in test])
    seconds = time.perf_counter() - start
    table = pd.DataFrame(pred, index=pd.Index(ids, name="video"), columns=list(data.categories))
    return CVResult(name, table, seconds, [[ids[i] for i in test] for _, test in split])


def checkpoint_info(path) -> dict:
    """The ``info`` (provenance, validation metrics, trained range) of a regressor checkpoint."""
    from spermtrack.regressors.torchfit import read_checkpoint

    return dict(read_checkpoint(path, "spermtrack regressor checkpoint").get("info") or {})


def outside_training(info: dict, name: str, um_per_px: float) -> str | None:
    """Why a checkpoint's model was not trained for a pixel size (None when it was, or when it does not say).

    Parameters
    ----------
    info : dict
        The checkpoint's :func:`checkpoint_info`; ``info["trained_for"]["um_per_px"]`` is the trained range.
    name : str
        The model's name, for the message.
    um_per_px : float
        The video's pixel size.
    """
    lo, hi = (info.get("trained_for") or {}).get("um_per_px", (0.0, float("inf")))
    if lo <= um_per_px <= hi:
        return None
    return (f"{name}: the pixel size {um_per_px:g} um/px is outside the {lo:g}-{hi:g} um/px the model was trained "
            "for")


def shipped_predictions(name: str, data, *, um_per_px: float, cache_dir=None, progress: bool = False
                        ) -> tuple[CVResult, dict, list[str]]:
    """Predict every video of ``data`` with the checkpoint shipped for ``name`` (no training).

    The videos are prepared with the checkpoint's own input settings. A video the model was not trained
    for, a pixel size outside the checkpoint's ``trained_for`` range, gets no number (NaN) and a note,
    instead of a prediction that would mean little.

    Returns
    -------
    (CVResult, dict, list of str)
        The predictions (``folds`` empty), the checkpoint's ``info`` (its validation metrics), and notes.
    """
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.regressors import load_regressor, shipped_checkpoint

    path = shipped_checkpoint(name)
    model, inputs = load_regressor(path, expect=name)
    info = checkpoint_info(path)
    inputs.pop("um_per_px", None)
    settings = InputSettings.from_dict(inputs)
    notes = []
    start = time.perf_counter()
    pred = np.full((len(data.video_ids), len(model.categories)), np.nan)
    outside = outside_training(info, name, um_per_px)
    if outside is not None:
        notes.append(f"{outside}: no prediction")
    else:
        prepared = prepare_all(data, settings, set(model.needs), um_per_px=um_per_px, cache_dir=cache_dir,
                               progress=progress)
        pred = model.predict([prepared[v].inputs for v in data.video_ids])
    table = pd.DataFrame(pred, index=pd.Index(data.video_ids, name="video"), columns=list(model.categories))
    return CVResult(name, table, time.perf_counter() - start, []), info, notes


def seeded_regressor(name: str, categories, *, seed: int, quick: bool = False, **options):
    """:func:`~spermtrack.regressors.make_regressor` with ``seed`` passed to the models that take one."""
    from spermtrack.regressors import make_regressor, regressor_class

    extra = {"seed": seed} if "seed" in regressor_class(name).Config.field_names() else {}
    return make_regressor(name, categories, quick=quick, **{**extra, **options})


def agreement_table(predicted_pct: pd.DataFrame, truth_pct: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-video errors and per-category agreement of percentages (:func:`~spermtrack.eval.agreement.grade_agreement`)."""
    from spermtrack.eval.agreement import grade_agreement

    return grade_agreement(predicted_pct, truth_pct, categories=list(predicted_pct.columns))
