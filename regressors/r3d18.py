"""``r3d18``: short stacks of grayscale frames -> torchvision's 3D ResNet-18, trained from scratch.

Follows the 3D-CNN approach to VISEM motility (3D ResNet-18/34 on stacks of grayscale frames,
predicting the motility proportions; the tabular participant data of that paper are not used).
Departures, for a 2-core CPU:

- r3d_18's layout (full 3D convolutions, two basic blocks per stage) at an eighth of its width
  (``width`` 8: 8-16-32-64 channels, 0.5 M parameters instead of 33 M,
  :func:`~spermtrack.regressors.nets.resnet3d`), with a one-channel stem (grayscale) instead of
  replicating the frame into three channels; random initial weights, no Kinetics pre-training;
- clips of ``clip_frames`` frames, every ``clip_step``-th kept frame (the caller's spacing is 0.04 s by
  default; 8 frames at step 3 span 0.84 s, which validated no better than consecutive frames, see
  ``regressors/weights/README.md``), cropped to
  ``crop`` x ``crop`` px from frames downsized to a quarter (160 x 120 for a 640 x 480 video):
  a few clips per video and epoch, drawn at random places and times;
- prediction averages ``eval_clips`` clips at evenly spaced times and fixed crop positions.

Each clip is standardised (zero mean, unit variance), so brightness and contrast do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spermtrack.regressors.base import Regressor, VideoInputs
from spermtrack.regressors.torchfit import CNNConfig, OneNetwork, predict_videos, train_network

__all__ = ["R3D18", "R3D18Config", "clip_tensor"]


@dataclass(frozen=True)
class R3D18Config(CNNConfig):
    """Settings of ``r3d18`` (plus :class:`~spermtrack.regressors.torchfit.CNNConfig`).

    Parameters
    ----------
    clip_frames : int
        Frames per clip.
    clip_step : int
        Kept frames from one frame of a clip to the next (1: consecutive).
    crop : int
        Side of the square crop, px of the downsized frames.
    clips_per_video : int
        Random clips per video and epoch.
    eval_clips : int
        Clips averaged per video at prediction.
    width : int
        Channels of the network's first stage (:func:`~spermtrack.regressors.nets.resnet3d`; 64 is r3d_18's).
    """

    epochs: int = 6
    batch: int = 8
    clip_frames: int = 8
    clip_step: int = 1
    crop: int = 48
    clips_per_video: int = 3
    eval_clips: int = 8
    width: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        self._integer("clip_frames", lo=2, hi=256)
        self._integer("clip_step", lo=1, hi=64)
        self._integer("crop", lo=16, hi=1024)
        self._integer("clips_per_video", lo=1, hi=1000)
        self._integer("eval_clips", lo=1, hi=1000)
        self._integer("width", lo=1, hi=512)


def clip_tensor(frames: np.ndarray, start: int, y: int, x: int, length: int, crop: int,
                step: int = 1) -> np.ndarray:
    """One standardised clip ``(1, length, crop, crop)`` float32 from ``(n, H, W)`` uint8 frames.

    The clip takes frames ``start, start + step, ...``. Videos shorter or narrower than asked are
    padded by repeating their last frame / edge pixels.
    """
    n, h, w = frames.shape
    t = np.minimum(start + step * np.arange(length), n - 1)
    rows = np.minimum(np.arange(y, y + crop), h - 1)
    cols = np.minimum(np.arange(x, x + crop), w - 1)
    clip = frames[t][:, rows][:, :, cols].astype(np.float32)
    clip = (clip - clip.mean()) / max(float(clip.std()), 1.0)
    return clip[None]


def _network(k: int, width: int):
    from spermtrack.regressors.nets import resnet3d

    return resnet3d(1, k, width=width)


def _span(cfg: R3D18Config) -> int:
    """Kept frames a clip covers, first to last."""
    return (cfg.clip_frames - 1) * cfg.clip_step + 1


def _random_clip(frames: np.ndarray, cfg: R3D18Config, rng: np.random.Generator) -> np.ndarray:
    n, h, w = frames.shape
    start = int(rng.integers(0, max(1, n - _span(cfg) + 1)))
    y = int(rng.integers(0, max(1, h - cfg.crop + 1)))
    x = int(rng.integers(0, max(1, w - cfg.crop + 1)))
    clip = clip_tensor(frames, start, y, x, cfg.clip_frames, cfg.crop, cfg.clip_step)
    if rng.random() < 0.5:
        clip = clip[:, :, :, ::-1]
    if rng.random() < 0.5:
        clip = clip[:, :, ::-1, :]
    return clip


def eval_clips(frames: np.ndarray, cfg: R3D18Config) -> np.ndarray:
    """The ``eval_clips`` clips of one video: evenly spaced times, crops cycling over the frame."""
    n, h, w = frames.shape
    starts = np.linspace(0, max(0, n - _span(cfg)), cfg.eval_clips).round().astype(int)
    ys = np.linspace(0, max(0, h - cfg.crop), 2).round().astype(int)
    xs = np.linspace(0, max(0, w - cfg.crop), 3).round().astype(int)
    spots = [(y, x) for y in ys for x in xs]
    return np.stack([clip_tensor(frames, s, *spots[i % len(spots)], cfg.clip_frames, cfg.crop, cfg.clip_step)
                     for i, s in enumerate(starts)])


class R3D18(OneNetwork, Regressor):
    """Grayscale clips -> r3d_18 (see the module notes)."""

    name = "r3d18"
    needs = ("frames",)
    Config = R3D18Config
    quick = {"epochs": 1, "batch": 2, "clips_per_video": 1, "eval_clips": 2, "clip_frames": 4, "crop": 32}

    def frames_needed(self) -> int:
        """A clip spans ``(clip_frames - 1) * clip_step + 1`` kept frames."""
        return _span(self.config)

    def _fit(self, inputs: list[VideoInputs], targets: np.ndarray, *, progress: bool, on_epoch=None) -> None:
        import torch

        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.net_ = self._network()
        per = cfg.clips_per_video
        y = torch.as_tensor(targets, dtype=torch.float32)

        def batch(idx, rng):
            owner = idx // per
            x = np.stack([_random_clip(inputs[v].frames, cfg, rng) for v in owner])
            return torch.from_numpy(np.ascontiguousarray(x)), y[owner]

        self.losses_ = train_network(self.net_, len(inputs) * per, batch, cfg, progress=progress, desc="r3d18",
                                     on_epoch=on_epoch)

    def _predict(self, inputs: list[VideoInputs]) -> np.ndarray:
        import torch

        def batches():
            for i, v in enumerate(inputs):
                clips = eval_clips(v.frames, self.config)
                yield torch.from_numpy(clips), np.full(len(clips), i)

        return predict_videos(self.net_, batches(), len(inputs), len(self.categories))

    def _network(self):
        return _network(len(self.categories), self.config.width)
