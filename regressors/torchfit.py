"""Training and prediction shared by the CNN regressors (torch).

Every CNN sees many *instances* per video (flow images, clips, feature images), each labelled with
its video's proportions. Training minimises the soft-target cross-entropy
``L = -(1/N) sum_i sum_c y_ic log softmax(f(x_i))_c`` (its minimum over a video's instances is the
video's proportions) with AdamW; prediction averages the softmax over a video's instances.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from spermtrack._validate import Config
from spermtrack.errors import InputError

__all__ = ["CNNConfig", "OneNetwork", "load_weights", "predict_videos", "read_checkpoint", "save_checkpoint",
           "train_network"]


def read_checkpoint(path: Path, what: str, example: str = ""):
    """``torch.load(path, weights_only=True)``: plain types only, so nothing in the file is ever run.

    Parameters
    ----------
    path : pathlib.Path
        An existing file.
    what : str
        What the file should be, for the messages (e.g. ``"per-sperm checkpoint"``).
    example : str
        Text after "Python objects that one never holds" (e.g. ``" (e.g. an ultralytics detector)"``).

    Raises
    ------
    InputError
        One line naming the file: it holds Python objects, or it is truncated or damaged.
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"is not a {what}: it holds Python objects that one never holds{example}; nothing in it "
                         "was run", path) from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot be read as a checkpoint, it may be truncated or damaged ({first[:120]})",
                         path) from None


def save_checkpoint(payload: dict, path: str | os.PathLike) -> Path:
    """``torch.save(payload)`` to ``path`` atomically: a temporary file beside it, then a rename.

    The file gets the permissions of any new file (``mkstemp``'s are private), and no temporary file is
    left behind on failure. Returns ``path`` as a :class:`pathlib.Path`.
    """
    import tempfile

    from spermtrack.extras import require

    require("torch", purpose="writing a checkpoint")
    import torch

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@dataclass(frozen=True)
class CNNConfig(Config):
    """Optimisation settings shared by the CNN regressors.

    Parameters
    ----------
    epochs : int
        Passes over the training instances.
    batch : int
        Instances per step.
    lr : float
        AdamW learning rate.
    weight_decay : float
        AdamW weight decay.
    seed : int
        Seed of the initial weights, the shuffling and the augmentation.
    schedule : {'cosine', 'constant'}
        Learning rate over the epochs: cosine decay from ``lr`` to 0 (step by step), or constant.
    ema : float
        Decay per step of an exponential moving average of the weights and batch-norm statistics
        (Polyak averaging; 0.999 averages about the last 1,000 steps; the decay is warmed up over the first
        steps), or 0 for none. With it, each epoch's evaluation and the trained network are the averaged
        weights.
    """

    epochs: int = 10
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    schedule: str = "cosine"
    ema: float = 0.0

    def __post_init__(self) -> None:
        self._integer("epochs", lo=1, hi=10000)
        self._integer("batch", lo=1, hi=4096)
        self._number("lr", lo=0, lo_open=True, hi=1)
        self._number("weight_decay", lo=0, hi=1)
        self._integer("seed", lo=0)
        self._choice("schedule", ("cosine", "constant"))
        self._number("ema", lo=0, hi=1, hi_open=True)


def train_network(net, n_items: int, get_batch: Callable, config: CNNConfig, *, progress: bool = False,
                  desc: str = "train", on_epoch: Callable[[int, float], bool] | None = None) -> list[float]:
    """Train ``net`` in place; return the mean loss of each epoch.

    Parameters
    ----------
    net : torch.nn.Module
        Outputs one logit per category.
    n_items : int
        Training instances per epoch.
    get_batch : callable
        ``get_batch(indices, generator) -> (x, y)``: the tensors of those instances (augmented with the
        ``numpy.random.Generator`` as the model wishes) and their target proportions ``(b, k)``.
    config : CNNConfig
    progress : bool
        Show a progress bar over epochs.
    desc : str
        Its label.
    on_epoch : callable, optional
        ``on_epoch(epoch, mean loss) -> bool`` after each epoch, with ``net`` in evaluation mode; True
        stops the training early.
    """
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * max(1, -(-n_items // config.batch))
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
                 if config.schedule == "cosine" else None)
    averaged = None
    if config.ema > 0:
        from torch.optim.swa_utils import AveragedModel

        averaged = AveragedModel(net, avg_fn=partial(_ema_step, config.ema), use_buffers=True)
    losses = []
    net.train()
    for _ in tqdm(range(config.epochs), desc=desc, unit="epoch", disable=not progress, leave=False):
        order = rng.permutation(n_items)
        total = 0.0
        for start in range(0, n_items, config.batch):
            idx = order[start:start + config.batch]
            if len(idx) < 2 and n_items >= 2:  # a batch of one breaks batch normalisation
                idx = order[max(0, start - 1):start + config.batch]
            x, y = get_batch(idx, rng)
            loss = -(y * torch.log_softmax(net(x), dim=1)).sum(dim=1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            if averaged is not None:
                averaged.update_parameters(net)
            total += loss.item() * len(idx)
        losses.append(total / n_items)
        if on_epoch is not None:
            training = _swap_in(net, averaged)
            net.eval()
            stop = on_epoch(len(losses) - 1, losses[-1])
            net.train()
            if training is not None:
                net.load_state_dict(training)
            if stop:
                break
    _swap_in(net, averaged)
    net.eval()
    return losses


def _ema_step(decay: float, average, current, n_averaged):
    """One step of the moving average, its decay warmed up as ``(1 + n) / (10 + n)`` so that the random initial
    weights are forgotten within the first few hundred steps."""
    d = min(decay, (1.0 + float(n_averaged)) / (10.0 + float(n_averaged)))
    return d * average + (1.0 - d) * current


def _swap_in(net, averaged) -> dict | None:
    """Load the averaged weights into ``net``; return a copy of the ones it had (None without averaging)."""
    if averaged is None:
        return None
    import copy

    current = copy.deepcopy(net.state_dict())
    net.load_state_dict(averaged.module.state_dict())
    return current


def predict_videos(net, batches, n_videos: int, k: int) -> np.ndarray:
    """Mean softmax per video.

    Parameters
    ----------
    net : torch.nn.Module
    batches : iterable of (x, owner)
        Instance tensors and the index of the video each belongs to.
    n_videos, k : int
        Number of videos and of categories.

    Returns
    -------
    numpy.ndarray
        ``(n_videos, k)`` proportions (a video without instances gets NaN).
    """
    import torch

    sums = np.zeros((n_videos, k))
    counts = np.zeros(n_videos)
    net.eval()
    with torch.no_grad():
        for x, owner in batches:
            p = torch.softmax(net(x), dim=1).numpy()
            np.add.at(sums, owner, p)
            np.add.at(counts, owner, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def load_weights(net, weights, what: str = "net") -> None:
    """Load ``weights`` (a ``state_dict``) into ``net`` once they are known to fit it.

    Parameters
    ----------
    net : torch.nn.Module
    weights : object
        What the checkpoint holds for this network.
    what : str
        The state's name for the network, for messages.

    Raises
    ------
    InputError
        ``weights`` is not a non-empty dict of tensors; names are missing or unexpected; a tensor has
        another shape than the network's; a floating-point tensor holds NaN or infinity. One line that
        counts each kind of problem and names the first, instead of torch's list of every key.
    """
    import torch

    if not isinstance(weights, dict) or not weights:
        raise InputError(f"its state's {what!r} is {'empty' if isinstance(weights, dict) else 'not a set of weights'}")
    expected = net.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong = [k for k in expected if k in weights and (not isinstance(weights[k], torch.Tensor)
                                                      or tuple(weights[k].shape) != tuple(expected[k].shape))]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of its {len(expected)} tensors are missing (e.g. {missing[0]!r})")
    if unexpected:
        problems.append(f"{len(unexpected)} tensor(s) are unknown to the network (e.g. {unexpected[0]!r})")
    if wrong:
        k = wrong[0]
        got = tuple(weights[k].shape) if isinstance(weights[k], torch.Tensor) else type(weights[k]).__name__
        problems.append(f"{len(wrong)} tensor(s) have the wrong shape (e.g. {k!r} is {got}, the network needs "
                        f"{tuple(expected[k].shape)})")
    if problems:
        raise InputError(f"its state's {what!r} does not fit the network: {'; '.join(problems)}")
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise InputError(f"its state's {what!r} holds NaN or infinite values ({len(bad)} tensor(s), e.g. {bad[0]!r})")
    net.load_state_dict(weights)


class OneNetwork:
    """``state`` and ``_load_state`` of a regressor whose fitted state is one network, ``net_``.

    The class provides ``_network()``: a new, untrained network for its categories.
    """

    def _network(self):
        raise NotImplementedError

    def state(self) -> dict:
        """The network's weights and the training losses."""
        return {"net": self.net_.state_dict(), "losses": [float(v) for v in self.losses_]}

    def _load_state(self, state: dict) -> None:
        self.net_ = self._network()
        load_weights(self.net_, self._state_entry(state, "net"), "net")
        self.net_.eval()
        self.losses_ = list(state.get("losses", []))
