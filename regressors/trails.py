"""``trails``: one-second trail images of the frames -> a 2D ResNet-18 layout that counts grades per location.

Not one of the seed papers' models. WHO grades a cell by how far its head gets in one second (net
progression) and whether it moves at all, so each input image folds one second of a video into six
channels at the downsized frame's size (160 x 120 px, kept frames 0.04 s apart):

- the frames at the second's start, middle and end: where each head is, and where it went;
- the per-pixel maximum, minimum and standard deviation over the second (the last times 3, to read on
  the frames' scale): the trail a moving head draws; a still head draws none.

The frames are standardised per video (mean 0, standard deviation 1), as aefeat's. The network is
:func:`~spermtrack.regressors.nets.resnet2d` (ResNet-18's layout at width 16, random initial weights)
ending by default in a :class:`~spermtrack.regressors.nets.MixtureHead`: each location of a map at 1/8 of
the image gets a distribution over the grades and a weight for how many cells it holds, and the video's
proportions are their weighted mean. Training images start every ``stride`` frames and are flipped at
random (motility has no direction); a prediction averages the images that start every ``eval_stride``
frames, and with ``eval_flips`` each image's four mirror views (as-is, left-right, up-down, both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spermtrack.regressors.aefeat import flipped, standardised
from spermtrack.regressors.base import Regressor, VideoInputs
from spermtrack.regressors.torchfit import CNNConfig, OneNetwork, predict_videos, train_network

__all__ = ["TRAIL_CHANNELS", "Trails", "TrailsConfig", "mirror_views", "trail_images"]

TRAIL_CHANNELS = 6
"""Channels of a trail image: start, middle and end frame; maximum, minimum and 3 x standard deviation."""

_PREDICT_BATCH = 64  # images per forward pass when predicting (bounds the memory of a long video)


@dataclass(frozen=True)
class TrailsConfig(CNNConfig):
    """Settings of ``trails`` (plus :class:`~spermtrack.regressors.torchfit.CNNConfig`).

    Parameters
    ----------
    window : int
        Frames per image (25 kept frames 0.04 s apart: about one second).
    stride : int
        Training images start every ``stride`` frames.
    eval_stride : int
        Images start every ``eval_stride`` frames when predicting.
    width : int
        Channels of the network's first stage (64 is ResNet-18's).
    head : {"mixture", "pool"}
        How the network ends: per-location grades averaged by per-location cell weights
        (:class:`~spermtrack.regressors.nets.MixtureHead`), or global pooling and a linear layer.
    eval_flips : bool
        Predict from each image's four mirror views, the flips training draws from (test-time
        augmentation; four times the prediction time).
    """

    epochs: int = 20
    window: int = 25
    stride: int = 25
    eval_stride: int = 12
    width: int = 16
    head: str = "mixture"
    eval_flips: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._integer("window", lo=3, hi=1000)
        self._integer("stride", lo=1, hi=1000)
        self._integer("eval_stride", lo=1, hi=1000)
        self._integer("width", lo=1, hi=512)
        self._choice("head", ("mixture", "pool"))
        self._boolean("eval_flips")


def trail_images(frames: np.ndarray, window: int, stride: int) -> np.ndarray:
    """The trail images of a video's frames.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(n, h, w)`` grey levels, ``n >= 2``.
    window : int
        Frames per image; a video shorter than that gives one image of all its frames.
    stride : int
        Images start every ``stride`` frames (at 0, stride, ... while the window fits).

    Returns
    -------
    numpy.ndarray
        ``(k, 6, h, w)`` float32: start, middle and end frame, per-pixel maximum, minimum and 3 x standard
        deviation over the window, of the frames standardised over the whole video.
    """
    f = standardised(frames)
    span = min(window, len(f))
    out = []
    for start in range(0, len(f) - span + 1, stride):
        w = f[start:start + span]
        out.append(np.stack([w[0], w[span // 2], w[-1], w.max(axis=0), w.min(axis=0), 3.0 * w.std(axis=0)]))
    return np.stack(out)


def mirror_views(images: np.ndarray) -> np.ndarray:
    """``(k, c, h, w)`` images and their left-right, up-down and double flips, ``(4k, c, h, w)``."""
    lr = images[..., ::-1]
    return np.concatenate([images, lr, images[..., ::-1, :], lr[..., ::-1, :]])


class Trails(OneNetwork, Regressor):
    """One-second trail images -> ResNet-18 layout with a counting head (see the module notes)."""

    name = "trails"
    needs = ("frames",)
    Config = TrailsConfig
    quick = {"epochs": 1, "batch": 4, "window": 4, "stride": 8, "eval_stride": 8, "width": 4}

    def frames_needed(self) -> int:
        """One image spans ``window`` frames."""
        return self.config.window

    def _images(self, frames: np.ndarray, stride: int) -> np.ndarray:
        return trail_images(frames, self.config.window, stride)

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        import torch

        cfg = self.config
        images = [self._images(v.frames, cfg.stride).astype(np.float16) for v in inputs]
        owner = np.concatenate([np.full(len(im), i) for i, im in enumerate(images)])
        x = np.concatenate(images)
        del images
        torch.manual_seed(cfg.seed)
        self.net_ = self._network()
        y = torch.as_tensor(targets[owner], dtype=torch.float32)

        def batch(idx, rng):
            return torch.from_numpy(flipped(x[idx].astype(np.float32), rng)), y[idx]

        self.losses_ = train_network(self.net_, len(x), batch, cfg, progress=progress, desc="trails",
                                     on_epoch=on_epoch)

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        import torch

        def batches():
            for i, v in enumerate(inputs):
                images = self._images(v.frames, self.config.eval_stride)
                if self.config.eval_flips:
                    images = mirror_views(images)
                for lo in range(0, len(images), _PREDICT_BATCH):
                    chunk = images[lo:lo + _PREDICT_BATCH]
                    yield torch.from_numpy(chunk), np.full(len(chunk), i)

        return predict_videos(self.net_, batches(), len(inputs), len(self.categories))

    def _network(self):
        from spermtrack.regressors.nets import resnet2d

        return resnet2d(TRAIL_CHANNELS, len(self.categories), width=self.config.width, head=self.config.head)
