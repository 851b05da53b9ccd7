"""``flow2d``: dense optical-flow images -> a 2D ResNet-18 trained from scratch.

Follows Haugen et al. 2023 ("Predicting sperm motility from optical flow": optical flow of VISEM
videos drawn as images, then a ResNet, WHO proportions; MAE 0.05 / 0.07 for 3 / 4 categories against
ZeroR 0.09 / 0.10). Departures, for a 2-core CPU and 20-video data sets:

- ResNet-18's layout instead of ResNet-50, at a quarter of its width (``width`` 16: 16-32-64-128
  channels, 0.7 M parameters, :func:`~spermtrack.regressors.nets.resnet2d`), random initial weights, not
  ImageNet ones;
- a few dense Farneback flow fields per video (the caller's ``flow_pairs``, 0.1 s apart, computed at
  half resolution and averaged down to 64 x 64) instead of many full-size flow images; the sparse
  Lucas-Kanade drawing of the paper is not used;
- channels in physical units (x and y velocity and speed, 10 um/s per unit) rather than a colour
  wheel, so that the same speed reads the same at any pixel size and frame rate;
- a channel shows where cells are, moving or not (local contrast over the background noise): flow
  alone cannot count immotile cells, so it cannot give proportions;
- a second, longer gap (0.5 s) gives the net progression that the head's beat hides over 0.1 s, and
  the block maxima of the speeds and the presence keep one head at full value when the flow is reduced
  to 64 x 64 (:attr:`~spermtrack.regressors.base.VideoInputs.flow`).

- optionally (``head="mixture"``) the network ends in a
  :class:`~spermtrack.regressors.nets.MixtureHead` instead of global pooling and a linear layer: each
  location of a map at 1/8 of the flow image's size gets a distribution over the grades and a weight for
  how many cells it holds, and the video's proportions are their weighted mean (a counting layer the paper
  does not have).

Augmentation keeps the physics: a horizontal flip negates the x velocity, a vertical flip the y
velocity, a transpose swaps them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spermtrack.regressors.base import FLOW_CHANNELS, Regressor, VideoInputs
from spermtrack.regressors.torchfit import CNNConfig, OneNetwork, predict_videos, train_network

__all__ = ["Flow2D", "Flow2DConfig", "augment_flow"]


@dataclass(frozen=True)
class Flow2DConfig(CNNConfig):
    """Settings of ``flow2d`` (plus :class:`~spermtrack.regressors.torchfit.CNNConfig`).

    Parameters
    ----------
    width : int
        Channels of the network's first stage (:func:`~spermtrack.regressors.nets.resnet2d`; 64 is ResNet-18's).
    head : {"pool", "mixture"}
        How the network ends: ResNet's global pooling and linear layer, or per-location grades averaged by
        per-location cell weights (:class:`~spermtrack.regressors.nets.MixtureHead`).
    """

    epochs: int = 12
    width: int = 16
    head: str = "pool"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._integer("width", lo=1, hi=512)
        self._choice("head", ("pool", "mixture"))


def augment_flow(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flips and transposes of ``(b, c, h, w)`` flow images (x, y velocity first) that keep velocities consistent."""
    x = x.copy()
    for i in range(len(x)):
        if rng.random() < 0.5:
            x[i] = x[i, :, :, ::-1]
            x[i, 0] = -x[i, 0]
        if rng.random() < 0.5:
            x[i] = x[i, :, ::-1, :]
            x[i, 1] = -x[i, 1]
        if x.shape[2] == x.shape[3] and rng.random() < 0.5:
            x[i] = x[i][[1, 0, *range(2, x.shape[1])]].transpose(0, 2, 1)
    return x


def _network(k: int, width: int, head: str):
    from spermtrack.regressors.nets import resnet2d

    return resnet2d(FLOW_CHANNELS, k, width=width, head=head)


class Flow2D(OneNetwork, Regressor):
    """Optical-flow images -> ResNet-18 (see the module notes)."""

    name = "flow2d"
    needs = ("flow",)
    Config = Flow2DConfig
    quick = {"epochs": 1, "batch": 4}

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        import torch

        x = np.concatenate([v.flow for v in inputs]).astype(np.float32)
        owner = np.concatenate([np.full(len(v.flow), i) for i, v in enumerate(inputs)])
        torch.manual_seed(self.config.seed)
        self.net_ = self._network()
        y = torch.as_tensor(targets[owner], dtype=torch.float32)

        def batch(idx, rng):
            return torch.from_numpy(np.ascontiguousarray(augment_flow(x[idx], rng))), y[idx]

        self.losses_ = train_network(self.net_, len(x), batch, self.config, progress=progress, desc="flow2d",
                                     on_epoch=on_epoch)

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        import torch

        def batches():
            for i, v in enumerate(inputs):
                yield torch.from_numpy(np.ascontiguousarray(v.flow, dtype=np.float32)), np.full(len(v.flow), i)

        return predict_videos(self.net_, batches(), len(inputs), len(self.categories))

    def _network(self):
        return _network(len(self.categories), self.config.width, self.config.head)
