"""Training the head verifier (:mod:`spermtrack.detectors.verify`): labelled patches -> CNN -> ONNX.

The verifier learns "is this detection an annotated object?" from patches cut at a detector's own boxes,
each labelled by whether it lies within 10 px of an annotated box of its frame (one-to-one per frame, as
the detection metrics match). It is trained on detections of frames the detector never trained on, so
that its negatives are the false positives a detector makes on new video; its score calibration is
fitted on frames the verifier never trained on. The recipe that builds the shipped file is
``verifier`` in :mod:`spermtrack.training.recipes`.

Needs PyTorch and onnx (``spermtrack[train]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.detectors.base import to_gray
from spermtrack.detectors.verify import META_KEYS, PATCH_RADIUS, patches, standardise
from spermtrack.errors import InputError

__all__ = ["VerifierTrainConfig", "crop_patches", "export_verifier", "labelled_patches", "predict_logits",
           "train_verifier", "verifier_net"]


def labelled_patches(frames: Mapping[int, np.ndarray], detections: pd.DataFrame, truth: pd.DataFrame, *,
                     max_dist: float = 10.0, margin: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Patches at every detection of ``frames`` and whether each matched an annotated box.

    Parameters
    ----------
    frames : mapping of int to numpy.ndarray
        Frame index -> checked frame (grey or BGR ``uint8``); detections of other frames are skipped.
    detections, truth : pandas.DataFrame
        Tables with ``frame, x, y`` (box centres, px).
    max_dist : float
        Gate, px: a detection is true when matched to an annotated box this close (one-to-one per frame).
    margin : int
        Extra px on every side, for training with shifted crops (:func:`train_verifier`).

    Returns
    -------
    patches : numpy.ndarray
        ``uint8`` ``(n, 2 * (PATCH_RADIUS + margin), 2 * (PATCH_RADIUS + margin))``.
    is_true : numpy.ndarray of bool
        ``(n,)``.
    """
    from spermtrack.eval.detection import match_centres

    dets = detections[detections["frame"].isin(list(frames))].reset_index(drop=True)
    gt = truth[truth["frame"].isin(list(frames))].reset_index(drop=True)
    is_true = np.zeros(len(dets), bool)
    if len(dets) and len(gt):
        is_true[match_centres(gt, dets, max_dist=max_dist)["pred_row"].to_numpy()] = True
    radius = PATCH_RADIUS + margin
    out = np.empty((len(dets), 2 * radius, 2 * radius), np.uint8)
    for frame, rows in dets.groupby("frame").indices.items():
        gray = to_gray(frames[int(frame)])
        out[rows] = patches(gray, dets["x"].to_numpy()[rows], dets["y"].to_numpy()[rows], radius=radius)
    return out, is_true


@dataclass(frozen=True)
class VerifierTrainConfig(Config):
    """Training settings of the verifier (stored in the exported file's recipe); validated on construction.

    Parameters
    ----------
    epochs : int
        Passes over the patches.
    batch : int
        Patches per step.
    lr : float
        Peak learning rate of the one-cycle AdamW schedule.
    weight_decay : float
        AdamW weight decay.
    seed : int
        Seed of the weights, the order and the augmentation.
    """

    epochs: int = 6
    batch: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        self._integer("epochs", lo=1, hi=1000)
        self._integer("batch", lo=1, hi=65536)
        self._number("lr", lo=0, lo_open=True, hi=1)
        self._number("weight_decay", lo=0, hi=1)
        self._integer("seed", lo=0)


def verifier_net():
    """The verifier network: four 3 x 3 convolutions (16-32-64-64 channels), global average, one logit."""
    from torch import nn

    def block(cin: int, cout: int, pool: bool) -> list:
        layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
        return layers + [nn.MaxPool2d(2)] if pool else layers

    return nn.Sequential(*block(1, 16, True), *block(16, 32, True), *block(32, 64, True), *block(64, 64, False),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def _augment(x, generator):
    """Random right-angle rotation and mirror (one per batch), per-patch gain and offset, pixel noise."""
    import torch

    k = int(torch.randint(4, (1,), generator=generator))
    x = torch.rot90(x, k, (2, 3))
    if torch.rand(1, generator=generator) < 0.5:
        x = x.flip(3)
    n = len(x)
    gain = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator)
    offset = 0.2 * torch.randn(n, 1, 1, 1, generator=generator)
    return x * gain + offset + 0.1 * torch.randn(x.shape, generator=generator)


def crop_patches(patch_batch: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """``(n, 2 * PATCH_RADIUS, 2 * PATCH_RADIUS)`` windows of larger patches.

    Parameters
    ----------
    patch_batch : numpy.ndarray
        ``(n, s, s)`` patches, ``s >= 2 * PATCH_RADIUS``.
    offsets : numpy.ndarray, optional
        ``(n, 2)`` integer (row, column) of each window's corner; ``None``: the centre window.
    """
    side, extra = 2 * PATCH_RADIUS, patch_batch.shape[1] - 2 * PATCH_RADIUS
    if offsets is None:
        return patch_batch[:, extra // 2:extra // 2 + side, extra // 2:extra // 2 + side]
    span = np.arange(side)
    rows = (offsets[:, 0, None] + span)[:, :, None]
    cols = (offsets[:, 1, None] + span)[:, None, :]
    return patch_batch[np.arange(len(patch_batch))[:, None, None], rows, cols]


def train_verifier(patch_batch: np.ndarray, is_true: np.ndarray, config: VerifierTrainConfig | None = None, *,
                   progress: bool = False):
    """Train :func:`verifier_net` on labelled patches (binary cross-entropy); returns the model in eval mode.

    Patches larger than ``2 * PATCH_RADIUS`` (cut with a ``margin``, :func:`labelled_patches`) are cropped at a
    random offset each time they are seen, so that the verifier does not need a box exactly at the head's centre
    (another detector, another microscope, or a label drawn around head and midpiece).

    Raises
    ------
    InputError
        No patches, lengths that differ, or only one label.
    """
    import torch

    cfg = config or VerifierTrainConfig()
    y = np.asarray(is_true, bool)
    if len(patch_batch) == 0 or len(patch_batch) != len(y):
        raise InputError(f"need patches and one label each, got {len(patch_batch)} patches and {len(y)} labels")
    if y.all() or not y.any():
        raise InputError("the verifier needs both true and false detections to learn from")
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    model = verifier_net()
    extra = patch_batch.shape[1] - 2 * PATCH_RADIUS
    target = torch.from_numpy(y.astype(np.float32))
    steps = cfg.epochs * -(-len(y) // cfg.batch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr / 10, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.lr, total_steps=steps)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="train verifier", unit="batch", leave=False)
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), cfg.batch):
            rows = order[start:start + cfg.batch]
            offsets = torch.randint(extra + 1, (len(rows), 2), generator=generator).numpy()
            x = torch.from_numpy(standardise(crop_patches(patch_batch[rows.numpy()], offsets)))
            logits = model(_augment(x, generator))[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return model.eval()


def predict_logits(model, patch_batch: np.ndarray, batch: int = 1024) -> np.ndarray:
    """The model's logits for ``uint8`` patches (their centre windows), ``(n,)`` float64."""
    import torch

    x = standardise(crop_patches(patch_batch))
    with torch.no_grad():
        parts = [model(torch.from_numpy(x[i:i + batch]))[:, 0].numpy() for i in range(0, len(x), batch)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def export_verifier(model, path: str | Path, *, calibration, recipe: dict) -> Path:
    """Write ``model`` as a verifier ONNX file with its patch radius, score calibration and recipe.

    Parameters
    ----------
    model : torch.nn.Module
        A trained :func:`verifier_net`.
    path : str or Path
        Output ``.onnx`` file (written whole or not at all).
    calibration : ScoreCalibration
        Platt scaling of the sigmoid of the logit.
    recipe : dict
        What made the model (data, settings, validation figures), stored as JSON.
    """
    import io
    import warnings

    import onnx
    import torch

    from spermtrack.io.atomic import atomic_path

    side = 2 * PATCH_RADIUS
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(model.eval(), torch.zeros(1, 1, side, side), buffer, input_names=["patches"],
                          output_names=["logits"], dynamic_axes={"patches": {0: "n"}, "logits": {0: "n"}},
                          opset_version=17, dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in ((META_KEYS["radius"], str(PATCH_RADIUS)),
                       (META_KEYS["score_calibration"], json.dumps(calibration.to_dict())),
                       (META_KEYS["recipe"], json.dumps(recipe, default=str))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    return path
