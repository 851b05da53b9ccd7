"""``aefeat``: an autoencoder folds a stack of frames into one feature image -> ResNet-34.

Follows Thambawita et al. 2019 ("Extracting temporal features into a spatial domain using autoencoders
for sperm video analysis", MediaEval Medico): an autoencoder takes a stack of consecutive frames (their
inputs I3 and I4: 9 and 18 frames), its encoder maps the stack to one image of the frame's size, the
*feature image*, and its decoder reconstructs the stack from it (MSE loss). Where a cell moved during the
stack must survive the bottleneck, so the feature image holds time in space: an immotile head stays a
dot, a progressive one leaves a trail. A ResNet-34 reads the feature images and predicts the motility
proportions (MAE 9.43 points on VISEM). Departures, for a 2-core CPU:

- the frames are the downsized ones every model reads (160 x 120 px); the stack takes every
  ``stride``-th of them, so that 9 frames span about 0.6 s, long enough for a progressive trail;
- a small fully convolutional autoencoder (three 3 x 3 convolutions of ``ae_width`` channels each
  way, no striding: the feature image keeps the frame's resolution) with ``code_channels`` channels,
  trained for ``ae_epochs`` on ``ae_windows`` stacks of each of at most ``ae_videos`` training videos;
- ``windows`` evenly spaced stacks per video, one feature image each; the video's prediction is the
  mean over its stacks;
- feature images flipped left-right and up-down at random in training (the paper fine-tuned an
  ImageNet ResNet-34 on 85 videos; here nothing is pretrained);
- ResNet-34's layout (3-4-6-3 basic blocks) at a quarter of its width (``width`` 16: 1.3 M parameters
  instead of 21 M, :func:`~spermtrack.regressors.nets.resnet2d`), random initial weights.

Frames are standardised per video before encoding (brightness and contrast do not matter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spermtrack.regressors.base import Regressor, VideoInputs
from spermtrack.regressors.torchfit import CNNConfig, load_weights, predict_videos, train_network

__all__ = ["AEFeatConfig", "AutoencoderFeatures", "flipped", "stacks", "standardised"]


@dataclass(frozen=True)
class AEFeatConfig(CNNConfig):
    """Settings of ``aefeat`` (plus :class:`~spermtrack.regressors.torchfit.CNNConfig` for the ResNet-34).

    Parameters
    ----------
    code_channels : int
        Channels of the feature image (the autoencoder's code).
    ae_width : int
        Channels of the autoencoder's hidden convolutions.
    ae_epochs : int
        Autoencoder training epochs.
    ae_windows : int
        Stacks per training video used to train the autoencoder (evenly spaced).
    ae_videos : int
        At most this many training videos (evenly spaced) train the autoencoder.
    window : int
        Frames per stack.
    stride : int
        A stack takes every ``stride``-th frame.
    windows : int
        Stacks (feature images) per video.
    width : int
        Channels of the ResNet-34 layout's first stage (64 is ResNet-34's).
    """

    epochs: int = 8
    code_channels: int = 3
    ae_width: int = 16
    ae_epochs: int = 5
    ae_windows: int = 2
    ae_videos: int = 960
    window: int = 9
    stride: int = 2
    windows: int = 6
    width: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        self._integer("code_channels", lo=1, hi=64)
        self._integer("ae_width", lo=1, hi=256)
        self._integer("ae_epochs", lo=1, hi=1000)
        self._integer("ae_windows", lo=1, hi=1000)
        self._integer("ae_videos", lo=1)
        self._integer("window", lo=2, hi=64)
        self._integer("stride", lo=1, hi=64)
        self._integer("windows", lo=1, hi=1000)
        self._integer("width", lo=1, hi=512)


def _autoencoder(window: int, code: int, width: int):
    import torch.nn as nn

    def convs(sizes):
        layers = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers += [nn.Conv2d(a, b, 3, padding=1)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
        return nn.Sequential(*layers)

    return nn.ModuleDict({"encoder": convs([window, width, width, code]),
                          "decoder": convs([code, width, width, window])})


def _network(k: int, code: int, width: int):
    from spermtrack.regressors.nets import resnet2d

    return resnet2d(code, k, width=width, blocks=(3, 4, 6, 3))


def standardised(frames: np.ndarray) -> np.ndarray:
    """Frames as float32 with mean 0 over the whole video, divided by its standard deviation (by 1 when that is
    below 1 grey level, e.g. a blank video)."""
    f = frames.astype(np.float32)
    return (f - f.mean()) / max(float(f.std()), 1.0)


def _even(n: int, count: int) -> np.ndarray:
    return np.unique(np.linspace(0, max(0, n - 1), min(n, count)).round().astype(int))


def stacks(n: int, count: int, window: int, stride: int) -> np.ndarray:
    """Frame indices of ``count`` evenly spaced stacks of ``window`` frames ``stride`` apart, ``(k, window)``.

    The stacks of a video shorter than one stack repeat its last frame; stacks that would coincide are
    taken once.
    """
    span = (window - 1) * stride
    starts = np.unique(np.linspace(0, max(0, n - 1 - span), count).round().astype(int))
    return np.minimum(starts[:, None] + stride * np.arange(window)[None], n - 1)


def flipped(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each of ``(b, c, h, w)`` images flipped left-right and up-down at random (motility has no direction)."""
    out = images.copy()
    lr, ud = rng.random(len(images)) < 0.5, rng.random(len(images)) < 0.5
    out[lr] = out[lr][..., ::-1]
    out[ud] = out[ud][..., ::-1, :]
    return out


class AutoencoderFeatures(Regressor):
    """Autoencoder feature images -> ResNet-34 (see the module notes)."""

    name = "aefeat"
    needs = ("frames",)
    Config = AEFeatConfig
    quick = {"epochs": 1, "batch": 4, "ae_epochs": 1, "ae_windows": 1, "window": 4, "stride": 1, "windows": 2,
             "ae_width": 4}

    def frames_needed(self) -> int:
        """A stack spans ``(window - 1) stride + 1`` frames."""
        return (self.config.window - 1) * self.config.stride + 1

    def _stacks(self, frames: np.ndarray, count: int) -> np.ndarray:
        cfg = self.config
        return standardised(frames)[stacks(len(frames), count, cfg.window, cfg.stride)]

    def _feature_images(self, frames: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.ae_["encoder"](torch.from_numpy(self._stacks(frames, self.config.windows))).numpy()

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.ae_ = _autoencoder(cfg.window, cfg.code_channels, cfg.ae_width)
        chosen = _even(len(inputs), cfg.ae_videos)
        x_ae = torch.from_numpy(np.concatenate([self._stacks(inputs[i].frames, cfg.ae_windows) for i in chosen]))
        optimiser = torch.optim.AdamW(self.ae_.parameters(), lr=1e-3)
        rng = np.random.default_rng(cfg.seed)
        self.ae_.train()
        for _ in range(cfg.ae_epochs):
            for idx in np.array_split(rng.permutation(len(x_ae)), max(1, len(x_ae) // 16)):
                xb = x_ae[idx]
                loss = torch.nn.functional.mse_loss(self.ae_["decoder"](self.ae_["encoder"](xb)), xb)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.ae_.eval()
        self.ae_loss_ = loss.item()
        del x_ae
        images = [self._feature_images(v.frames).astype(np.float16) for v in inputs]
        owner = np.concatenate([np.full(len(im), i) for i, im in enumerate(images)])
        x = np.concatenate(images)
        del images
        self.net_ = _network(len(self.categories), cfg.code_channels, cfg.width)
        y = torch.as_tensor(targets[owner], dtype=torch.float32)

        def batch(idx, rng):
            return torch.from_numpy(flipped(x[idx].astype(np.float32), rng)), y[idx]

        self.losses_ = train_network(self.net_, len(x), batch, cfg, progress=progress, desc="aefeat",
                                     on_epoch=on_epoch)

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        import torch

        def batches():
            for i, v in enumerate(inputs):
                images = self._feature_images(v.frames)
                yield torch.from_numpy(images), np.full(len(images), i)

        return predict_videos(self.net_, batches(), len(inputs), len(self.categories))

    def state(self) -> dict:
        return {"autoencoder": self.ae_.state_dict(), "net": self.net_.state_dict(),
                "ae_loss": self.ae_loss_, "losses": [float(v) for v in self.losses_]}

    def _load_state(self, state: dict) -> None:
        self.ae_ = _autoencoder(self.config.window, self.config.code_channels, self.config.ae_width)
        load_weights(self.ae_, self._state_entry(state, "autoencoder"), "autoencoder")
        self.ae_.eval()
        self.net_ = _network(len(self.categories), self.config.code_channels, self.config.width)
        load_weights(self.net_, self._state_entry(state, "net"), "net")
        self.net_.eval()
        self.ae_loss_ = float(self._state_array(state, "ae_loss", ())) if "ae_loss" in state else math.nan
        self.losses_ = list(state.get("losses", []))
