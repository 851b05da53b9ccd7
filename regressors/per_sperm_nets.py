"""The networks of the per-sperm motility model: raw clips ``(B, 16, 32, 32)`` in, grade logits out.

:class:`SpaceTimeTransformer` (divided space-time attention with RoSTFine's patch selection and
role-separated branches) and :class:`Small3DCNN` (a three-layer 3D CNN baseline), with the per-clip
:func:`standardise` both apply first. Each ``forward`` returns logits ``(heads, B, 4)`` over the grades
a, b, c, d. Training, prediction and checkpoints are :class:`~spermtrack.regressors.per_sperm.PerSpermModel`'s
(:mod:`spermtrack.regressors.per_sperm`, which re-exports these names). Importing this module imports torch.
"""

from __future__ import annotations

import torch
from torch import nn

from spermtrack.constants import GRADES
from spermtrack.regressors.clips import CLIP_FRAMES, CLIP_PX

__all__ = ["Small3DCNN", "SpaceTimeTransformer", "standardise"]


def standardise(clips: torch.Tensor) -> torch.Tensor:
    """Each clip minus its mean, divided by its standard deviation + 1e-3.

    Parameters
    ----------
    clips : torch.Tensor
        ``(N, ...)``: the statistics are taken over everything but the first axis.

    Returns
    -------
    torch.Tensor
        Same shape.
    """
    axes = tuple(range(1, clips.dim()))
    mean = clips.mean(dim=axes, keepdim=True)
    std = clips.std(dim=axes, keepdim=True, unbiased=False)
    return (clips - mean) / (std + 1e-3)


# ------------------------------------------------------------------------------------------- transformer
class _Attention(nn.Module):
    """Multi-head self-attention that also returns its attention weights ``(B, heads, L, L)``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, d)), weights


def _mlp(dim: int, ratio: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, ratio * dim), nn.GELU(), nn.Linear(ratio * dim, dim))


class _DividedBlock(nn.Module):
    """One TimeSformer block: temporal attention, then spatial attention (with the CLS token), then MLP.

    Pre-norm and residual around each. The CLS token ``(B, D)`` is copied into every frame's spatial
    attention; the copies' updates are averaged back into one token.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.time_norm, self.time_attn = nn.LayerNorm(dim), _Attention(dim, heads)
        self.space_norm, self.space_attn = nn.LayerNorm(dim), _Attention(dim, heads)
        self.mlp_norm, self.mlp = nn.LayerNorm(dim), _mlp(dim, mlp_ratio)

    def forward(self, cls: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``cls (B, D)``, patch tokens ``x (B, T, P, D)`` -> both updated, and the CLS token's attention
        over each frame's patches ``(B, T, P)`` (mean over heads)."""
        b, t, p, d = x.shape
        along_time = x.transpose(1, 2).reshape(b * p, t, d)
        x = x + self.time_attn(self.time_norm(along_time))[0].reshape(b, p, t, d).transpose(1, 2)
        frames = torch.cat([cls[:, None, None].expand(b, t, 1, d), x], dim=2).reshape(b * t, p + 1, d)
        update, weights = self.space_attn(self.space_norm(frames))
        update = update.reshape(b, t, p + 1, d)
        cls = cls + update[:, :, 0].mean(dim=1)
        x = x + update[:, :, 1:]
        cls = cls + self.mlp(self.mlp_norm(cls))
        x = x + self.mlp(self.mlp_norm(x))
        return cls, x, weights[:, :, 0, 1:].mean(dim=1).reshape(b, t, p)


class _EncoderLayer(nn.Module):
    """A pre-norm transformer encoder layer over a sequence ``(B, L, D)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.attn_norm, self.attn = nn.LayerNorm(dim), _Attention(dim, heads)
        self.mlp_norm, self.mlp = nn.LayerNorm(dim), _mlp(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))[0]
        return x + self.mlp(self.mlp_norm(x))


class SpaceTimeTransformer(nn.Module):
    """A small TimeSformer with RoSTFine's patch selection and role-separated branches.

    Follows RoSTFine (Fujii et al., WACV 2024): a TimeSformer backbone (Bertasius et al., ICML 2021:
    divided space-time attention), a Patch Selection Module that keeps, per frame, the patches the CLS
    token attends to most, and role-separated branches that read the selected patches, one for
    appearance (spatial) and one for their change over time (temporal), beside the CLS head.

    Architecture: each 32 x 32 frame is cut into 16 patches of 8 x 8 px, linearly embedded to 64
    dimensions, plus learned spatial (per patch position) and temporal (per frame) position
    embeddings. Three divided space-time blocks (4 heads, pre-norm, residual, MLP ratio 2): temporal
    attention among the same patch position across the 16 frames, then spatial attention among the
    16 patches of one frame, then the MLP. Patch selection: from the last block's spatial attention,
    the CLS token's weights over each frame's patches (mean over heads) pick the top ``K`` = 4 patches
    per frame; their final tokens are averaged per frame. Heads, each giving 4 logits:

    - main: the CLS token -> linear;
    - spatial branch: the per-frame means of the selected tokens, averaged over frames -> linear;
    - temporal branch: the 16 per-frame means as a sequence (they carry the temporal position
      embedding) -> one pre-norm transformer encoder layer -> mean over frames -> linear.

    :meth:`forward` returns the three heads' logits stacked; training sums their soft-label
    cross-entropies and prediction takes the softmax of their mean (see :class:`PerSpermModel`).

    Departures from RoSTFine / TimeSformer, for 32-px single-sperm clips on a CPU:

    - size: 64-dim embedding, 4 heads, 3 blocks, MLP ratio 2, 8-px patches on 32-px frames (about
      0.19 M parameters) instead of ViT-Base (768-dim, 12 heads, 12 blocks, 16-px patches on 224-px
      frames); no ImageNet or Kinetics pre-training, trained from scratch on one channel (grayscale);
    - CLS token: as in TimeSformer's reference code, the CLS token takes no part in temporal
      attention; it joins the spatial attention of every frame as a copy, and the copies' updates
      are averaged back into one token after each block (a choice: one global token, T updates);
    - patch selection uses the last block's CLS attention only (no attention rollout over blocks),
      with ``K`` = 4 of 16 patches per frame, the same at training and prediction; the selection
      does not drop tokens from the backbone (all patches go through every block; only the branches
      read the selected ones), and no gradient flows through the choice itself (top-k indices);
    - the branches are one linear layer (spatial) and one encoder layer + linear (temporal); there is
      no extra loss beyond the summed soft-label cross-entropies of the three heads; no dropout.

    Parameters
    ----------
    dim : int
        Embedding width.
    heads : int
        Attention heads.
    depth : int
        Divided space-time blocks.
    keep : int
        Patches kept per frame by the patch selection (``K``).
    """

    patch = 8

    def __init__(self, dim: int = 64, heads: int = 4, depth: int = 3, keep: int = 4):
        super().__init__()
        self.keep = keep
        grid = CLIP_PX // self.patch
        self.embed = nn.Linear(self.patch * self.patch, dim)
        self.space_pos = nn.Parameter(torch.zeros(1, 1, grid * grid, dim))
        self.time_pos = nn.Parameter(torch.zeros(1, CLIP_FRAMES, 1, dim))
        self.cls = nn.Parameter(torch.zeros(1, dim))
        for param in (self.space_pos, self.time_pos, self.cls):
            nn.init.trunc_normal_(param, std=0.02)
        self.blocks = nn.ModuleList(_DividedBlock(dim, heads, 2) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.time_branch = nn.Sequential(_EncoderLayer(dim, heads, 2), nn.LayerNorm(dim))
        self.heads = nn.ModuleList(nn.Linear(dim, len(GRADES)) for _ in range(3))

    def _patches(self, clips: torch.Tensor) -> torch.Tensor:
        """``(B, T, S, S)`` -> ``(B, T, P, patch * patch)``, patches in row-major order."""
        b, t, s, _ = clips.shape
        g, k = s // self.patch, self.patch
        return clips.reshape(b, t, g, k, g, k).permute(0, 1, 2, 4, 3, 5).reshape(b, t, g * g, k * k)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Raw clips ``(B, 16, 32, 32)`` -> logits ``(3, B, 4)`` of the main, spatial and temporal heads."""
        x = self.embed(self._patches(standardise(clips))) + self.space_pos + self.time_pos
        cls = self.cls.expand(len(x), -1)
        for block in self.blocks:
            cls, x, attention = block(cls, x)
        cls, x = self.norm(cls), self.norm(x)
        chosen = attention.topk(self.keep, dim=-1).indices
        selected = torch.gather(x, 2, chosen[..., None].expand(-1, -1, -1, x.shape[-1])).mean(dim=2)
        main, spatial, temporal = self.heads
        return torch.stack([main(cls), spatial(selected.mean(dim=1)), temporal(self.time_branch(selected).mean(dim=1))])


# ------------------------------------------------------------------------------------------- 3D CNN
class Small3DCNN(nn.Module):
    """A three-layer 3D CNN baseline, much smaller than torchvision's ``r3d_18``.

    Follows the 3D-CNN approach to video classification of the 3D ResNets (Hara et al., CVPR 2018;
    torchvision's ``r3d_18``): 3 x 3 x 3 convolutions over time and space with batch normalisation,
    pooling, global average pooling and a linear classifier. Departures: three plain convolution
    layers of 16, 32 and 64 channels without residual connections (``r3d_18``: a 64-channel stem and
    eight residual blocks up to 512 channels, 33 M parameters; this one 70 k), one input channel
    (grayscale), no Kinetics pre-training, dropout 0.2 before the classifier.

    Layers: Conv3d(1, 16, 3, pad 1)-BN-ReLU-MaxPool(1, 2, 2) -> Conv3d(16, 32)-BN-ReLU-MaxPool(2, 2, 2)
    -> Conv3d(32, 64)-BN-ReLU -> global average pool -> dropout 0.2 -> linear to 4 logits.
    """

    def __init__(self):
        super().__init__()

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv3d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(*conv(1, 16), nn.MaxPool3d((1, 2, 2)), *conv(16, 32), nn.MaxPool3d(2),
                                      *conv(32, 64), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, len(GRADES)))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Raw clips ``(B, 16, 32, 32)`` -> logits ``(1, B, 4)`` (one head)."""
        return self.classifier(self.features(standardise(clips)[:, None]))[None]
