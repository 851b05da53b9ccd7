"""Per-sperm motility models: one sperm's clip in, a distribution over the WHO grades a, b, c, d out.

A *clip* is ``CLIP_FRAMES`` = 16 grayscale frames of ``CLIP_PX`` x ``CLIP_PX`` = 32 x 32 px cut along
one sperm's track, centred on its head in every frame, in raw grey levels (0-255). A batch of clips is
a ``(N, 16, 32, 32)`` array; targets are ``(N, 4)`` probabilities over :data:`GRADES` (soft labels
allowed). Each network standardises every clip itself (minus the clip's mean, divided by its standard
deviation + 1e-3), so brightness and contrast do not matter.

==================  ===============================================================================
``"transformer"``   :class:`SpaceTimeTransformer`: divided space-time attention with patch selection
                    and role-separated branches (after RoSTFine, Fujii et al., WACV 2024)
``"cnn3d"``         :class:`Small3DCNN`: a three-layer 3D CNN (after the 3D ResNets, Hara et al. 2018)
==================  ===============================================================================

:class:`PerSpermModel` wraps either: ``fit`` (AdamW, cosine schedule, symmetry augmentation, model
choice on a validation set), ``predict_proba``, ``save``; :func:`load_per_sperm` reads a checkpoint
back. Both networks (:mod:`spermtrack.regressors.per_sperm_nets`, re-exported here) are built from
scratch (nothing is downloaded) and small enough to train on a few thousand clips on two CPU cores in
minutes. Pure numpy helpers score predictions: :func:`balanced_accuracy`, :func:`js_divergence`, :func:`mse`.

Checkpoints
-----------
``torch.save`` of ``{"format": "spermtrack-per-sperm", "version": 1, "arch": ..., "clip_shape":
(16, 32, 32), "state_dict": ..., "info": {...}}``, written atomically. :func:`load_per_sperm` reads it
with ``torch.load(..., weights_only=True)``, so nothing in the file can run code; ``info`` is
therefore stored as plain types (numpy scalars and arrays become numbers and lists).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from scipy.special import rel_entr
from torch import nn

from spermtrack._validate import integer, number
from spermtrack.constants import GRADES
from spermtrack.errors import InputError
from spermtrack.extras import torch_file_kind
from spermtrack.regressors.clips import CLIP_FRAMES, CLIP_PX
from spermtrack.regressors.per_sperm_nets import Small3DCNN, SpaceTimeTransformer, standardise
from spermtrack.regressors.torchfit import load_weights, read_checkpoint, save_checkpoint

__all__ = ["ARCHITECTURES", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CLIP_FRAMES", "CLIP_PX", "GRADES",
           "PerSpermModel", "Small3DCNN", "SpaceTimeTransformer", "augment_clips", "balanced_accuracy",
           "combine_grades", "js_divergence", "load_per_sperm", "mse", "standardise"]

#: Model names accepted by :class:`PerSpermModel`.
ARCHITECTURES: tuple[str, ...] = ("transformer", "cnn3d")
CHECKPOINT_FORMAT = "spermtrack-per-sperm"
CHECKPOINT_VERSION = 1

_CLIP_SHAPE = (CLIP_FRAMES, CLIP_PX, CLIP_PX)
_OWNER = "PerSpermModel.fit"
#: Architecture name -> network class (:data:`ARCHITECTURES`).
_NETWORKS = {"transformer": SpaceTimeTransformer, "cnn3d": Small3DCNN}


def _network(arch: str, seed: int) -> nn.Module:
    """A new network of ``arch``, its weights drawn from ``seed`` (the global torch RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _NETWORKS[arch]()


# ------------------------------------------------------------------------------------------- data
def augment_clips(clips: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each clip turned by one of the 8 symmetries of the square, drawn at random.

    A quarter turn (0, 90, 180 or 270 degrees), then a horizontal mirror half of the time; together
    they make every combination of horizontal and vertical flips and 90-degree rotations (a vertical
    flip is a horizontal one after a half turn). The whole clip turns alike, so the motion turns with
    the image: a sperm's heading is arbitrary.

    Parameters
    ----------
    clips : numpy.ndarray
        ``(N, T, S, S)``.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and dtype.
    """
    out = np.empty_like(clips)
    for i, clip in enumerate(clips):
        turned = np.rot90(clip, int(rng.integers(4)), axes=(1, 2))
        out[i] = turned[:, :, ::-1] if rng.random() < 0.5 else turned
    return out


def _array(values, what: str) -> np.ndarray:
    """``values`` as a numeric numpy array; InputError for anything else (text, ragged lists)."""
    try:
        array = np.asarray(values)
    except ValueError:
        array = None
    if array is None or array.dtype.kind not in "uif":
        raise InputError(f"{what} must be a numeric array, got {type(values).__name__}"
                         + ("" if array is None else f" of dtype {array.dtype}"))
    return array


def _check_clips(clips, what: str = "clips") -> np.ndarray:
    """``clips`` as a float32 ``(N, 16, 32, 32)`` array of finite grey levels; InputError otherwise."""
    array = _array(clips, what)
    if array.ndim != 4 or array.shape[1:] != _CLIP_SHAPE:
        raise InputError(f"{what} must be an array of shape (N, {CLIP_FRAMES}, {CLIP_PX}, {CLIP_PX}) (N clips of "
                         f"{CLIP_FRAMES} frames of {CLIP_PX} x {CLIP_PX} px), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{what} hold NaN or infinite values")
    return array.astype(np.float32, copy=False)


def _check_distributions(values, what: str, n: int) -> np.ndarray:
    """``values`` as a float64 ``(n, 4)`` array of non-negative rows summing to 1; InputError otherwise."""
    array = _array(values, what).astype(np.float64)
    if array.shape != (n, len(GRADES)):
        raise InputError(f"{what} must be an array of shape ({n}, {len(GRADES)}) (probabilities of grades "
                         f"{', '.join(GRADES)} for each clip), got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any() or not np.allclose(array.sum(axis=1), 1.0, atol=1e-3):
        raise InputError(f"{what} must be probabilities: finite, non-negative, each row summing to 1")
    return array


def _batches(n: int, batch_size: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    """Indices ``0..n-1`` (in ``order`` if given) cut into batches of at most ``batch_size``, sizes within one."""
    order = np.arange(n) if order is None else order
    return np.array_split(order, -(-n // batch_size)) if n else []


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over clips of ``-sum_c y_c log softmax(logits)_c``."""
    return -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


# ------------------------------------------------------------------------------------------- the model
class PerSpermModel:
    """A per-sperm motility model: clips in, probabilities of the grades a, b, c, d out.

    Parameters
    ----------
    arch : str
        One of :data:`ARCHITECTURES`: ``"transformer"`` (:class:`SpaceTimeTransformer`) or ``"cnn3d"``
        (:class:`Small3DCNN`).
    seed : int
        Seed of the initial weights, the shuffling, the augmentation and dropout.

    Attributes
    ----------
    arch : str
    seed : int
    net : torch.nn.Module
        The network (untrained until :meth:`fit` or :func:`load_per_sperm`). Its ``forward`` takes raw
        clips ``(B, 16, 32, 32)`` and returns logits ``(heads, B, 4)``.
    info : dict
        Free notes saved with the checkpoint (recipe, metrics, provenance), for the caller to fill.

    Raises
    ------
    InputError
        An unknown ``arch``.
    """

    def __init__(self, arch: str = "transformer", *, seed: int = 0):
        if arch not in ARCHITECTURES:
            raise InputError(f"unknown per-sperm architecture {arch!r}: choose from {', '.join(ARCHITECTURES)}")
        self.arch = arch
        self.seed = integer("PerSpermModel", "seed", seed, lo=0)
        self.net = _network(arch, self.seed)
        self.net.eval()
        self.info: dict = {}

    def fit(self, clips, targets, *, val_clips=None, val_targets=None, epochs: int = 20, batch_size: int = 64,
            lr: float = 1e-3, patience: int | None = None, progress: bool = False) -> dict:
        """Train the network from its seeded initial weights.

        AdamW (weight decay 1e-4) with a cosine learning-rate schedule over all steps, on the sum of
        the heads' soft-label cross-entropies; each batch is augmented by :func:`augment_clips`. With a
        validation set, the weights of the epoch of lowest validation loss are kept.

        Parameters
        ----------
        clips : numpy.ndarray
            ``(N, 16, 32, 32)`` raw grey levels, N >= 1.
        targets : numpy.ndarray
            ``(N, 4)`` probabilities of the grades (soft labels allowed).
        val_clips, val_targets : numpy.ndarray, optional
            A validation set (both or neither), for model choice and early stopping.
        epochs : int
            Passes over the training clips (at most).
        batch_size : int
            Clips per step.
        lr : float
            Peak AdamW learning rate.
        patience : int, optional
            With a validation set: stop after this many epochs without a lower validation loss.
            ``None`` trains all ``epochs``.
        progress : bool
            Show a progress bar over epochs.

        Returns
        -------
        dict
            ``{"train_loss": [...], "val_loss": [...], "best_epoch": int}``: per epoch, the mean training
            objective (summed over heads, on augmented clips) and the validation loss (cross-entropy of
            :meth:`predict_proba`; empty without a validation set); ``best_epoch`` indexes the epoch
            whose weights were kept (0-based; the last epoch without a validation set).

        Raises
        ------
        InputError
            Clips or targets of the wrong shape or values, a validation set given by half, or settings
            out of range.
        """
        from tqdm.auto import tqdm

        x = _check_clips(clips)
        y = _check_distributions(targets, "targets", len(x))
        if not len(x):
            raise InputError("no training clips")
        validation = self._validation_set(val_clips, val_targets)
        epochs = integer(_OWNER, "epochs", epochs, lo=1)
        batch_size = integer(_OWNER, "batch_size", batch_size, lo=1)
        lr = number(_OWNER, "lr", lr, lo=0, lo_open=True)
        patience = None if patience is None else integer(_OWNER, "patience", patience, lo=1)

        self.net = _network(self.arch, self.seed)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        optimiser = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=1e-4)
        steps = epochs * len(_batches(len(x), batch_size))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
        history = {"train_loss": [], "val_loss": [], "best_epoch": epochs - 1}
        best_state, best_loss = None, np.inf
        bar = tqdm(range(epochs), desc=f"per-sperm {self.arch}", unit="epoch", disable=not progress, leave=False)
        for epoch in bar:
            history["train_loss"].append(self._train_epoch(x, y, batch_size, optimiser, schedule, rng))
            if validation is None:
                continue
            loss = self._loss(*validation)
            history["val_loss"].append(loss)
            bar.set_postfix(val_loss=f"{loss:.4f}")
            if loss < best_loss:
                best_loss, history["best_epoch"] = loss, epoch
                best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            elif patience is not None and epoch - history["best_epoch"] >= patience:
                break
        bar.close()
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        return history

    def predict_proba(self, clips, *, batch_size: int = 256) -> np.ndarray:
        """Probabilities of the grades a, b, c, d for each clip.

        The softmax of the mean of the network's heads' logits, in eval mode, without gradients.

        Parameters
        ----------
        clips : numpy.ndarray
            ``(N, 16, 32, 32)`` raw grey levels (N may be 0).
        batch_size : int
            Clips per forward pass.

        Returns
        -------
        numpy.ndarray
            ``(N, 4)`` float64, non-negative rows summing to 1.
        """
        x = _check_clips(clips)
        batch_size = integer("PerSpermModel.predict_proba", "batch_size", batch_size, lo=1)
        out = np.zeros((len(x), len(GRADES)))
        self.net.eval()
        with torch.no_grad():
            for idx in _batches(len(x), batch_size):
                out[idx] = torch.softmax(self.net(torch.from_numpy(x[idx])).mean(dim=0), dim=-1).double().numpy()
        return out / out.sum(axis=1, keepdims=True) if len(out) else out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the checkpoint (see the module notes) atomically: a temporary file, then a rename.

        Parameters
        ----------
        path : str or PathLike
            The ``.pt`` file; its folder must exist.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        InputError
            The folder does not exist, or :attr:`info` holds something other than plain types (dict,
            list, tuple, str, numbers, bool, None, numpy scalars and arrays, paths).
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise InputError("cannot save the per-sperm model: no such folder", path.parent)
        payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "arch": self.arch,
                   "clip_shape": _CLIP_SHAPE, "state_dict": self.net.state_dict(), "info": _plain(self.info, "info")}
        return save_checkpoint(payload, path)

    # ----------------------------------------------------------------------------------- internals
    @staticmethod
    def _validation_set(val_clips, val_targets) -> tuple[np.ndarray, np.ndarray] | None:
        if val_clips is None and val_targets is None:
            return None
        if val_clips is None or val_targets is None:
            raise InputError("give both val_clips and val_targets, or neither")
        x = _check_clips(val_clips, "val_clips")
        if not len(x):
            raise InputError("val_clips is empty")
        return x, _check_distributions(val_targets, "val_targets", len(x))

    def _train_epoch(self, x: np.ndarray, y: np.ndarray, batch_size: int, optimiser, schedule,
                     rng: np.random.Generator) -> float:
        """One pass over the shuffled, augmented clips; the mean objective per clip."""
        self.net.train()
        total = 0.0
        for idx in _batches(len(x), batch_size, rng.permutation(len(x))):
            logits = self.net(torch.from_numpy(augment_clips(x[idx], rng)))
            target = torch.from_numpy(y[idx]).float()
            loss = sum(_soft_cross_entropy(head, target) for head in logits)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        return total / len(x)

    def _loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy of the predicted probabilities against ``y``."""
        p = self.predict_proba(x)
        return float(-(y * np.log(np.clip(p, 1e-12, None))).sum(axis=1).mean())


def _plain(value, where: str):
    """``value`` with numpy scalars and arrays as Python numbers and lists, paths as str; InputError for
    anything else that ``torch.load(weights_only=True)`` would refuse."""
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise InputError(f"cannot save the per-sperm model: {where} is a {type(value).__name__}; info holds plain "
                     "types only (dict, list, tuple, str, numbers, bool, None)")


def load_per_sperm(path: str | os.PathLike) -> PerSpermModel:
    """Load a checkpoint written by :meth:`PerSpermModel.save`.

    Parameters
    ----------
    path : str or PathLike
        The ``.pt`` file.

    Returns
    -------
    PerSpermModel
        In eval mode, with the saved :attr:`~PerSpermModel.info`.

    Raises
    ------
    InputError
        One line naming the file: missing, unreadable or damaged; not a per-sperm checkpoint (another
        format, a file holding Python objects, which is never run); another format version; an unknown
        architecture or clip shape; weights that do not fit the network.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such per-sperm checkpoint file", path)
    kind = torch_file_kind(path)
    if kind is not None:
        raise InputError(f"is not a per-sperm checkpoint (it is {kind})", path)
    payload = read_checkpoint(path, "per-sperm checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"is not a per-sperm checkpoint (no format {CHECKPOINT_FORMAT!r})", path)
    if payload.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"is a per-sperm checkpoint of format version {payload.get('version')!r}; this spermtrack "
                         f"reads version {CHECKPOINT_VERSION}", path)
    arch = payload.get("arch")
    if arch not in ARCHITECTURES:
        raise InputError(f"holds an unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})", path)
    if tuple(payload.get("clip_shape") or ()) != _CLIP_SHAPE:
        raise InputError(f"is for clips of shape {payload.get('clip_shape')!r}; this spermtrack uses {_CLIP_SHAPE}",
                         path)
    model = PerSpermModel(arch)
    try:
        load_weights(model.net, payload.get("state_dict"), "state_dict")
    except InputError as exc:
        raise InputError(str(exc), path) from None
    model.net.eval()
    info = payload.get("info", {})
    model.info = dict(info) if isinstance(info, dict) else {}
    return model


# ------------------------------------------------------------------------------------------- metrics
def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of probabilities of the same shape, as float64 2-D arrays (a 1-D array is one row)."""
    p, q = np.atleast_2d(np.asarray(p, dtype=np.float64)), np.atleast_2d(np.asarray(q, dtype=np.float64))
    if p.shape != q.shape or p.ndim != 2:
        raise InputError(f"the two sets of probabilities must have the same (N, k) shape, got {p.shape} and {q.shape}")
    return p, q


def combine_grades(kinematic, proba) -> np.ndarray:
    """The combined grade of each sperm: the kinematic grade for a and b, the video model's choice of c or d.

    A head track measures progression well (a, b) but cannot tell a tail beating in place (c) from a still
    cell (d); the clip around the head can.

    Parameters
    ----------
    kinematic : array-like of str or None
        The kinematic grade of each sperm (``"a"`` .. ``"d"``; None or NaN where it has none).
    proba : numpy.ndarray, shape (n, 4)
        The video model's distribution over a, b, c, d per sperm; rows of NaN where it has no clip.

    Returns
    -------
    numpy.ndarray of object
        ``"a"`` or ``"b"`` as graded kinematically; else ``"c"`` when ``p_c >= p_d``, ``"d"`` otherwise;
        None where the sperm has a kinematic c or d (or no grade) and no clip.
    """
    kinematic = np.asarray(kinematic, dtype=object)
    proba = np.asarray(proba, dtype=np.float64).reshape(len(kinematic), 4)
    has_clip = np.isfinite(proba).all(axis=1)
    video_cd = np.where(proba[:, 2] >= proba[:, 3], "c", "d")
    return np.where(np.isin(kinematic, ["a", "b"]), kinematic, np.where(has_clip, video_cd, None)).astype(object)


def balanced_accuracy(true_idx, pred_idx, n_classes: int = 4) -> float:
    """Mean recall over the classes present in ``true_idx``.

    Parameters
    ----------
    true_idx, pred_idx : array-like of int
        True and predicted class indices ``0..n_classes-1``, same length.
    n_classes : int
        Number of classes.

    Returns
    -------
    float
        In [0, 1]; NaN when there are no items.

    Raises
    ------
    InputError
        Lengths differ, or an index is not an integer in ``0..n_classes-1``.
    """
    t, p = np.asarray(true_idx), np.asarray(pred_idx)
    if t.ndim != 1 or t.shape != p.shape:
        raise InputError(f"true and predicted classes must be two 1-D arrays of one length, got {t.shape} and "
                         f"{p.shape}")
    for a in (t, p):
        if a.size and (a.dtype.kind not in "ui" or a.min() < 0 or a.max() >= n_classes):
            raise InputError(f"class indices must be integers in 0..{n_classes - 1}")
    if not t.size:
        return float("nan")
    return float(np.mean([np.mean(p[t == c] == c) for c in np.unique(t)]))


def js_divergence(p, q) -> float:
    """Mean Jensen-Shannon divergence (natural log) between the rows of ``p`` and ``q``.

    ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2`` and ``0 log 0 = 0``: 0 for
    equal rows, at most ln 2 for rows of disjoint support.

    Parameters
    ----------
    p, q : array-like
        ``(N, k)`` (or ``(k,)``, one row) probabilities, rows summing to 1.

    Returns
    -------
    float
        The mean over rows; NaN when there are none.
    """
    p, q = _pair(p, q)
    if not len(p):
        return float("nan")
    m = (p + q) / 2
    return float(np.mean(0.5 * rel_entr(p, m).sum(axis=1) + 0.5 * rel_entr(q, m).sum(axis=1)))


def mse(p, q) -> float:
    """Mean squared difference over all entries of ``p`` and ``q``.

    Parameters
    ----------
    p, q : array-like
        ``(N, k)`` (or ``(k,)``) probabilities.

    Returns
    -------
    float
        ``mean((p - q) ** 2)``; NaN when there are no rows.
    """
    p, q = _pair(p, q)
    return float(np.mean((p - q) ** 2)) if p.size else float("nan")
