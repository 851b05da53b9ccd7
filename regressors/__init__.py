"""Sample-level motility regressors: one video in, WHO motility proportions out (torch imported lazily).

They cross-check the tracking path (detector -> tracker -> kinematics -> grades) with models that
predict the proportions directly, as the seed papers did on VISEM:

==============  ====================================================================================
``zeror``       the mean of the training targets: the baseline every model must beat
``trackfeat``   histograms of track speed, progression and straightness -> ridge regression
                (motilitAI, Ottl et al. 2022)
``flow2d``      dense optical-flow images -> 2D ResNet-18 (Haugen et al. 2023 used ResNet-50)
``r3d18``       short stacks of grayscale frames -> torchvision's 3D ResNet-18 (r3d_18)
``aefeat``      an autoencoder folds a stack of frames into one feature image (motion drawn as trails)
                -> ResNet-34 (Thambawita et al. 2019)
``cnnmean``     the mean of the three CNNs' predictions
``trails``      one-second trail images (where heads were, went, and the trails they drew) -> ResNet-18
                with a counting head (spermtrack's own, not a seed paper's)
==============  ====================================================================================

Every model has the same interface (:class:`~spermtrack.regressors.base.Regressor`: ``fit``,
``predict``, ``save``, :func:`load_regressor`) and is built by name with :func:`make_regressor`; a
new model is one file and one line in :data:`REGRESSORS`. CNNs are built with ``weights=None``
(nothing is downloaded). Cross-validation folds split by video (:func:`kfold_by_video`).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from spermtrack.errors import InputError
from spermtrack.extras import require, torch_file_kind
from spermtrack.regressors.base import (CATEGORY_SETS, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, FOUR, THREE, Regressor,
                                        VideoInputs, project_to_simplex, three_from_four)
from spermtrack.regressors.split import kfold_by_video

__all__ = ["CATEGORY_SETS", "FOUR", "NEEDS_TORCH", "PER_SPERM", "PER_SPERM_SUMMARY", "REGRESSORS",
           "REGRESSOR_SUMMARIES", "THREE", "Regressor", "VideoInputs",
           "kfold_by_video", "load_regressor", "make_regressor", "packaged_checkpoint", "project_to_simplex",
           "regressor_class", "shipped_checkpoint", "shipped_names", "three_from_four"]

#: Model name -> one-line description (the command-line help reads it; keep it beside :data:`REGRESSORS`).
REGRESSOR_SUMMARIES: dict[str, str] = {
    "zeror": "training mean",
    "trackfeat": "track-kinematics histograms + ridge",
    "flow2d": "optical flow + ResNet-18",
    "r3d18": "frame stacks + 3D ResNet-18",
    "aefeat": "autoencoder feature images + ResNet-34",
    "cnnmean": "mean of flow2d, r3d18 and aefeat",
    "trails": "one-second trail images + ResNet-18 with a counting head",
}
#: The per-sperm video model (:mod:`spermtrack.regressors.per_sperm`): not a sample-level regressor, but
#: ``regress train --model`` trains it too, on a data set with per-sperm truth.
PER_SPERM = "persperm"
PER_SPERM_SUMMARY = "per-sperm video model, clips along each sperm's track (needs per-sperm truth: spermtrack synth)"
#: Regressors that are torch networks.
NEEDS_TORCH: tuple[str, ...] = ("flow2d", "r3d18", "aefeat", "cnnmean", "trails")
#: Model name -> ``module:Class`` (imported on first use, so that torch loads only when needed).
REGRESSORS: dict[str, str] = {
    "zeror": "spermtrack.regressors.zeror:ZeroR",
    "trackfeat": "spermtrack.regressors.trackfeat:TrackFeatures",
    "flow2d": "spermtrack.regressors.flow2d:Flow2D",
    "r3d18": "spermtrack.regressors.r3d18:R3D18",
    "aefeat": "spermtrack.regressors.aefeat:AutoencoderFeatures",
    "cnnmean": "spermtrack.regressors.cnnmean:CNNMean",
    "trails": "spermtrack.regressors.trails:Trails",
}


def regressor_class(name: str) -> type[Regressor]:
    """The class registered as ``name`` in :data:`REGRESSORS`."""
    if name not in REGRESSORS:
        raise InputError(f"unknown regressor {name!r}: choose from {', '.join(REGRESSORS)}")
    if name in NEEDS_TORCH:
        require("torch", "torchvision", purpose=f"the {name} regressor")
    module, cls = REGRESSORS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def shipped_names() -> list[str]:
    """The models whose checkpoint is shipped (``regressors/weights/<name>.pt``), in :data:`REGRESSORS` order."""
    import importlib.resources

    weights = importlib.resources.files("spermtrack.regressors").joinpath("weights")
    return [name for name in REGRESSORS if weights.joinpath(f"{name}.pt").is_file()]


def shipped_checkpoint(spec: str | os.PathLike) -> Path:
    """The checkpoint a ``--model`` value names: an existing file or folder (``model.pt`` inside), else the
    checkpoint shipped for that model name (``regressors/weights/<name>.pt``; recipes in
    :mod:`spermtrack.training.regressors`).

    Raises
    ------
    InputError
        Neither a file nor a folder, and not the name of a model with a shipped checkpoint.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        return path / "model.pt"
    if path.exists() or str(spec) not in REGRESSORS:
        return path
    return packaged_checkpoint(str(spec))


def packaged_checkpoint(name: str) -> Path:
    """The checkpoint shipped for the model ``name`` (``regressors/weights/<name>.pt``), whatever files the
    working directory holds.

    Raises
    ------
    InputError
        No checkpoint of ``name`` is shipped.
    """
    import importlib.resources

    resource = importlib.resources.files("spermtrack.regressors").joinpath("weights", f"{name}.pt")
    if not resource.is_file():
        raise InputError(f"no checkpoint of {name!r} is shipped (shipped: {', '.join(shipped_names()) or 'none'}); "
                         "train one "
                         f"with 'spermtrack regress train DATASET --model {name} --out DIR' and pass DIR")
    with importlib.resources.as_file(resource) as file:
        return Path(file)


def make_regressor(name: str, categories=THREE, *, quick: bool = False, **options) -> Regressor:
    """Build the regressor ``name`` predicting ``categories``.

    Parameters
    ----------
    name : str
        A key of :data:`REGRESSORS`.
    categories : tuple of str
        :data:`THREE` or :data:`FOUR`.
    quick : bool
        Use the model's small settings for a fast run (tests, ``--quick``); ``options`` still win.
    **options
        Settings of the model's ``Config``.
    """
    cls = regressor_class(name)
    return cls(categories, **{**(cls.quick if quick else {}), **options})


def load_regressor(path: str | os.PathLike, *, expect: str | None = None) -> tuple[Regressor, dict]:
    """Load a checkpoint written by :meth:`Regressor.save`.

    Parameters
    ----------
    path : str or PathLike
        The ``.pt`` file.
    expect : str, optional
        Refuse a checkpoint of another model.

    Returns
    -------
    (Regressor, dict)
        The fitted model and the checkpoint's ``inputs`` settings (how to prepare videos for it).

    Raises
    ------
    InputError
        One line naming the file: missing or unreadable file, not a spermtrack regressor checkpoint,
        another format version, another model than ``expect``, an unknown model name, categories or
        settings the model does not take, or a fitted state that is missing, empty or does not fit the
        model (missing or unknown entries, wrong shapes, NaN).
    """
    from spermtrack.regressors.torchfit import read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise InputError("no such checkpoint file", path)
    require("torch", purpose="reading a regressor checkpoint")
    kind = torch_file_kind(path)
    if kind is not None:
        raise InputError(f"is not a regressor checkpoint (it is {kind}; 'spermtrack regress train' writes model.pt)",
                         path)
    payload = read_checkpoint(path, "spermtrack regressor checkpoint", " (e.g. an ultralytics detector)")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError("is not a spermtrack regressor checkpoint (written by 'spermtrack regress train')", path)
    if payload.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"is a regressor checkpoint of format version {payload.get('version')!r}; this spermtrack "
                         f"reads version {CHECKPOINT_VERSION}: train the model again", path)
    name = payload.get("model")
    if expect is not None and name != expect:
        raise InputError(f"holds a {name!r} model, not {expect!r}", path)
    if not isinstance(name, str) or name not in REGRESSORS:
        raise InputError(f"holds an unknown model {name!r} (known: {', '.join(REGRESSORS)})", path)
    damaged = "the file is damaged or was edited: train the model again"
    categories, config = payload.get("categories"), payload.get("config")
    if not isinstance(categories, (list, tuple)) or tuple(categories) not in CATEGORY_SETS:
        raise InputError(f"holds model {name!r} with categories {categories!r}, not {list(THREE)} or "
                         f"{list(FOUR)}: {damaged}", path)
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise InputError(f"holds model {name!r} without its settings: {damaged}", path)
    inputs = payload.get("inputs")
    if inputs is not None and not isinstance(inputs, dict):
        raise InputError(f"holds model {name!r}, whose input settings are not a dict: {damaged}", path)
    state = payload.get("state")
    if not isinstance(state, dict) or not state:
        what = "no" if state is None else "an empty" if isinstance(state, dict) and not state else "a malformed"
        raise InputError(f"holds model {name!r} with {what} fitted state: {damaged}", path)
    try:
        model = regressor_class(name)(tuple(categories), **config)
    except InputError as exc:
        raise InputError(f"holds model {name!r} with settings it does not take ({exc}): {damaged}", path) from None
    try:
        model._load_state(state)
    except InputError as exc:
        raise InputError(f"holds model {name!r}, whose fitted state does not fit it: {exc}; {damaged}",
                         path) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        detail = f"no {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else (
            (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120])
        raise InputError(f"holds model {name!r}, whose fitted state does not fit it ({detail}): {damaged}",
                         path) from None
    model.fitted = True
    return model, dict(inputs or {})
