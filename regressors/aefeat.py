"""``aefeat``: autoencoder encodings of a frame window, tiled into a feature image -> ResNet-34.

Follows Thambawita et al. 2019 (MediaEval Medico: an autoencoder learns to compress VISEM frames;
the encodings of a window of frames form a "feature image" for a ResNet-34 that predicts motility;
MAE 9.43 points). Departures, for a 2-core CPU:

- a small convolutional autoencoder (three stride-2 convolutions, ``code_channels`` channels at 1/8
  of the downsized frame, e.g. 4 x 15 x 20 for 160 x 120 input) trained for ``ae_epochs`` on
  ``ae_frames`` frames of each training video, not on every frame;
- the feature image tiles the codes of ``window`` consecutive frames (a square grid: 9 frames ->
  3 x 3 tiles, e.g. 4 x 45 x 60), and ``windows`` evenly spaced windows per video;
- ResNet-34's layout (3-4-6-3 basic blocks) at a quarter of its width (``width`` 16: 1.3 M parameters
  instead of 21 M, :func:`~spermtrack.regressors.nets.resnet2d`), random initial weights, its first
  convolution taking the ``code_channels`` code channels.

Frames are standardised per video before encoding (brightness and contrast do not matter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spermtrack.regressors.base import Regressor, VideoInputs
from spermtrack.regressors.torchfit import CNNConfig, load_weights, predict_videos, train_network

__all__ = ["AEFeatConfig", "AutoencoderFeatures", "feature_image"]


@dataclass(frozen=True)
class AEFeatConfig(CNNConfig):
    """Settings of ``aefeat`` (plus :class:`~spermtrack.regressors.torchfit.CNNConfig` for the ResNet-34).

    Parameters
    ----------
    code_channels : int
        Channels of the autoencoder's code.
    ae_epochs : int
        Autoencoder training epochs.
    ae_frames : int
        Frames per training video used to train the autoencoder (evenly spaced).
    window : int
        Consecutive frames per feature image (a square number: 4, 9, 16).
    windows : int
        Feature images per video.
    width : int
        Channels of the ResNet-34 layout's first stage (64 is ResNet-34's).
    """

    epochs: int = 8
    code_channels: int = 4
    ae_epochs: int = 5
    ae_frames: int = 32
    window: int = 9
    windows: int = 8
    width: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        self._integer("code_channels", lo=1, hi=64)
        self._integer("ae_epochs", lo=1, hi=1000)
        self._integer("ae_frames", lo=1, hi=100000)
        self._integer("window", lo=1, hi=64)
        if math.isqrt(self.window) ** 2 != self.window:
            raise self._fail("window", "a square number (1, 4, 9, 16, ...)")
        self._integer("windows", lo=1, hi=1000)
        self._integer("width", lo=1, hi=512)


def _autoencoder(code: int):
    import torch.nn as nn

    encoder = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                            nn.Conv2d(32, code, 3, 2, 1))
    decoder = nn.Sequential(nn.ConvTranspose2d(code, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 16, 4, 2, 1),
                            nn.ReLU(), nn.ConvTranspose2d(16, 1, 4, 2, 1))
    return nn.ModuleDict({"encoder": encoder, "decoder": decoder})


def _network(k: int, code: int, width: int):
    from spermtrack.regressors.nets import resnet2d

    return resnet2d(code, k, width=width, blocks=(3, 4, 6, 3))


def _standardised(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float32)
    return (f - f.mean()) / max(float(f.std()), 1.0)


def _even(n: int, count: int) -> np.ndarray:
    return np.unique(np.linspace(0, max(0, n - 1), min(n, count)).round().astype(int))


def feature_image(codes: np.ndarray) -> np.ndarray:
    """Tile the codes of a window, ``(window, c, h, w)``, into one ``(c, g h, g w)`` image (``g^2 = window``)."""
    n, c, h, w = codes.shape
    g = math.isqrt(n)
    return codes.reshape(g, g, c, h, w).transpose(2, 0, 3, 1, 4).reshape(c, g * h, g * w)


class AutoencoderFeatures(Regressor):
    """Autoencoder feature images -> ResNet-34 (see the module notes)."""

    name = "aefeat"
    needs = ("frames",)
    Config = AEFeatConfig
    quick = {"epochs": 1, "batch": 4, "ae_epochs": 1, "ae_frames": 4, "window": 4, "windows": 2}

    def frames_needed(self) -> int:
        """A feature image tiles the codes of ``window`` consecutive frames."""
        return max(2, self.config.window)

    def _codes(self, frames: np.ndarray):
        import torch

        x = torch.from_numpy(_standardised(frames)[:, None])
        with torch.no_grad():
            return self.ae_["encoder"](x).numpy()

    def _feature_images(self, frames: np.ndarray) -> np.ndarray:
        cfg = self.config
        n = len(frames)
        starts = np.unique(np.linspace(0, max(0, n - cfg.window), cfg.windows).round().astype(int))
        codes = self._codes(frames)
        images = []
        for s in starts:
            idx = np.minimum(np.arange(s, s + cfg.window), n - 1)
            images.append(feature_image(codes[idx]))
        return np.stack(images).astype(np.float32)

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.ae_ = _autoencoder(cfg.code_channels)
        frames = np.concatenate([_standardised(v.frames[_even(len(v.frames), cfg.ae_frames)]) for v in inputs])
        x_ae = torch.from_numpy(frames[:, None])
        optimiser = torch.optim.AdamW(self.ae_.parameters(), lr=1e-3)
        rng = np.random.default_rng(cfg.seed)
        h, w = frames.shape[1:]
        self.ae_.train()
        for _ in range(cfg.ae_epochs):
            for idx in np.array_split(rng.permutation(len(x_ae)), max(1, len(x_ae) // 16)):
                xb = x_ae[idx]
                out = self.ae_["decoder"](self.ae_["encoder"](xb))[:, :, :h, :w]
                loss = torch.nn.functional.mse_loss(out, xb)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.ae_.eval()
        self.ae_loss_ = loss.item()
        images = [self._feature_images(v.frames) for v in inputs]
        x = np.concatenate(images)
        owner = np.concatenate([np.full(len(im), i) for i, im in enumerate(images)])
        self.net_ = _network(len(self.categories), cfg.code_channels, cfg.width)
        y = torch.as_tensor(targets[owner], dtype=torch.float32)

        def batch(idx, rng):
            return torch.from_numpy(x[idx]), y[idx]

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
        self.ae_ = _autoencoder(self.config.code_channels)
        load_weights(self.ae_, self._state_entry(state, "autoencoder"), "autoencoder")
        self.ae_.eval()
        self.net_ = _network(len(self.categories), self.config.code_channels, self.config.width)
        load_weights(self.net_, self._state_entry(state, "net"), "net")
        self.net_.eval()
        self.ae_loss_ = float(self._state_array(state, "ae_loss", ())) if "ae_loss" in state else math.nan
        self.losses_ = list(state.get("losses", []))
