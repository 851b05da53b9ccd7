"""Narrow ResNets for the CNN regressors: the ResNet-18 / r3d_18 layout at a fraction of the width.

torchvision's ResNet-18 (11 M parameters, 45 MB) and r3d_18 (33 M, 130 MB) are far larger than what
a few thousand synthetic training instances need, and too large to ship. These keep their layout
(a stem, four stages of two basic residual blocks, strides 1-2-2-2, global average pooling, one
linear layer) built from torchvision's own blocks, with ``width`` channels in the first stage and
``2 width``, ``4 width``, ``8 width`` in the next (torchvision's networks are ``width = 64``).

:class:`MixtureHead` replaces the pooling and the linear layer where a model should *count*: it classifies
every location of an earlier stage's feature map and averages the local distributions weighted by how many
cells each location holds, which is what a sample's proportions are.
"""

from __future__ import annotations

import torch  # only modules that need torch import this one (like per_sperm_nets)
import torch.nn as nn

__all__ = ["MixtureHead", "resnet2d", "resnet3d"]


def _stages(make_block, make_down, width: int, blocks: tuple[int, ...], strides: tuple[int, ...] | None = None):
    strides = strides or (1,) + (2,) * (len(blocks) - 1)
    layers, inplanes = [], width
    for i, n in enumerate(blocks):
        planes, stride = width * 2 ** i, strides[i]
        down = make_down(inplanes, planes, stride) if stride != 1 or inplanes != planes else None
        stage = [make_block(inplanes, planes, stride, down)]
        stage += [make_block(planes, planes, 1, None) for _ in range(n - 1)]
        layers.append(nn.Sequential(*stage))
        inplanes = planes
    return nn.Sequential(*layers), inplanes


def resnet2d(in_channels: int, n_out: int, *, width: int = 16, blocks: tuple[int, ...] = (2, 2, 2, 2),
             head: str = "pool"):
    """A 2D ResNet-18 layout with ``width`` first-stage channels (``width=64``: torchvision's resnet18).

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    n_out : int
        Outputs (logits).
    width : int
        Channels of the first stage.
    blocks : tuple of int
        Basic blocks per stage.
    head : {"pool", "mixture"}
        ``pool``: global average pooling and a linear layer (ResNet's); ``mixture``: a
        :class:`MixtureHead` on the stages' output map, with the last two stages at stride 1 so that
        the map keeps 1/8 of the input's size (8 x 8 locations for a 64 x 64 image).

    Returns
    -------
    torch.nn.Module
        ``(b, in_channels, h, w) -> (b, n_out)`` logits (with ``mixture``: log-proportions, which are
        their own log-softmax).
    """
    from torchvision.models.resnet import BasicBlock

    def make_block(inplanes, planes, stride, down):
        return BasicBlock(inplanes, planes, stride=stride, downsample=down)

    def make_down(inplanes, planes, stride):
        return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    if head not in ("pool", "mixture"):
        raise ValueError(f"head must be 'pool' or 'mixture', got {head!r}")
    strides = (1, 2) + (1,) * (len(blocks) - 2) if head == "mixture" else None
    stages, out = _stages(make_block, make_down, width, blocks, strides)
    stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
    if head == "mixture":
        return nn.Sequential(stem, stages, MixtureHead(out, n_out))
    return nn.Sequential(stem, stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(out, n_out))


class MixtureHead(nn.Module):
    """Per-location grades averaged by per-location cell weights: ``log sum_l w_l p_l / sum_l w_l``.

    A 1 x 1 convolution gives each location of a ``(b, channels, h, w)`` map a distribution ``p_l`` over the
    ``n_out`` grades, another a weight ``w_l = softplus(.)`` (how many cells the location holds); the output is
    the logarithm of their weighted mean, a distribution whose log-softmax is itself, so that it trains with the
    same soft-target cross-entropy as a linear layer's logits. Unlike global pooling, a location with many
    cells counts for as much as they do, whatever the density elsewhere.

    Parameters
    ----------
    channels : int
        Channels of the input map.
    n_out : int
        Grades.

    Returns
    -------
    torch.nn.Module
        ``(b, channels, h, w) -> (b, n_out)`` log-proportions.
    """

    def __init__(self, channels: int, n_out: int):
        super().__init__()
        self.classify = nn.Conv2d(channels, n_out, 1)
        self.weigh = nn.Conv2d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(self.classify(x), dim=1)                          # (b, k, h, w) local grades
        log_w = torch.log_softmax(nn.functional.softplus(self.weigh(x)).clamp_min(1e-6).log().flatten(1),
                                  dim=1).view(x.shape[0], 1, *x.shape[2:])          # (b, 1, h, w) share of the cells
        return torch.logsumexp((log_p + log_w).flatten(2), dim=2)                   # (b, k) log-proportions


def resnet3d(in_channels: int, n_out: int, *, width: int = 8, blocks: tuple[int, ...] = (2, 2, 2, 2)):
    """A 3D ResNet-18 layout (torchvision's r3d_18: full 3x3x3 convolutions) with ``width`` first-stage channels.

    The stem is r3d_18's (3 x 7 x 7, stride 1 x 2 x 2, no pooling); ``width=64`` gives r3d_18's widths.

    Returns
    -------
    torch.nn.Module
        ``(b, in_channels, t, h, w) -> (b, n_out)``.
    """
    from torchvision.models.video.resnet import BasicBlock, Conv3DSimple

    def make_block(inplanes, planes, stride, down):
        return BasicBlock(inplanes, planes, Conv3DSimple, stride=stride, downsample=down)

    def make_down(inplanes, planes, stride):
        return nn.Sequential(nn.Conv3d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm3d(planes))

    stages, out = _stages(make_block, make_down, width, blocks)
    stem = nn.Sequential(nn.Conv3d(in_channels, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                         nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    return nn.Sequential(stem, stages, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(out, n_out))
