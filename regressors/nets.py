"""Narrow ResNets for the CNN regressors: the ResNet-18 / r3d_18 layout at a fraction of the width.

torchvision's ResNet-18 (11 M parameters, 45 MB) and r3d_18 (33 M, 130 MB) are far larger than what
a few thousand synthetic training instances need, and too large to ship. These keep their layout
(a stem, four stages of two basic residual blocks, strides 1-2-2-2, global average pooling, one
linear layer) built from torchvision's own blocks, with ``width`` channels in the first stage and
``2 width``, ``4 width``, ``8 width`` in the next (torchvision's networks are ``width = 64``).
"""

from __future__ import annotations

__all__ = ["resnet2d", "resnet3d"]


def _stages(make_block, make_down, width: int, blocks: tuple[int, ...]):
    import torch.nn as nn

    layers, inplanes = [], width
    for i, n in enumerate(blocks):
        planes, stride = width * 2 ** i, 1 if i == 0 else 2
        down = make_down(inplanes, planes, stride) if stride != 1 or inplanes != planes else None
        stage = [make_block(inplanes, planes, stride, down)]
        stage += [make_block(planes, planes, 1, None) for _ in range(n - 1)]
        layers.append(nn.Sequential(*stage))
        inplanes = planes
    return nn.Sequential(*layers), inplanes


def resnet2d(in_channels: int, n_out: int, *, width: int = 16, blocks: tuple[int, ...] = (2, 2, 2, 2)):
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

    Returns
    -------
    torch.nn.Module
        ``(b, in_channels, h, w) -> (b, n_out)``.
    """
    import torch.nn as nn
    from torchvision.models.resnet import BasicBlock

    def make_block(inplanes, planes, stride, down):
        return BasicBlock(inplanes, planes, stride=stride, downsample=down)

    def make_down(inplanes, planes, stride):
        return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    stages, out = _stages(make_block, make_down, width, blocks)
    stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(stem, stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(out, n_out))


def resnet3d(in_channels: int, n_out: int, *, width: int = 8, blocks: tuple[int, ...] = (2, 2, 2, 2)):
    """A 3D ResNet-18 layout (torchvision's r3d_18: full 3x3x3 convolutions) with ``width`` first-stage channels.

    The stem is r3d_18's (3 x 7 x 7, stride 1 x 2 x 2, no pooling); ``width=64`` gives r3d_18's widths.

    Returns
    -------
    torch.nn.Module
        ``(b, in_channels, t, h, w) -> (b, n_out)``.
    """
    import torch.nn as nn
    from torchvision.models.video.resnet import BasicBlock, Conv3DSimple

    def make_block(inplanes, planes, stride, down):
        return BasicBlock(inplanes, planes, Conv3DSimple, stride=stride, downsample=down)

    def make_down(inplanes, planes, stride):
        return nn.Sequential(nn.Conv3d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm3d(planes))

    stages, out = _stages(make_block, make_down, width, blocks)
    stem = nn.Sequential(nn.Conv3d(in_channels, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                         nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    return nn.Sequential(stem, stages, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(out, n_out))
