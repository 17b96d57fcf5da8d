"""Conv-4 embedders: the four-block convolutional encoders of the metric-learning papers.

Two variants, registered under two names:

``conv4``       the RelationNet / CRN encoder (Sung et al., CVPR 2018; Zhu et al., ESWA 2022):
                blocks 1-2 unpadded with a 2x2 max-pool, blocks 3-4 padded without pooling;
                ``[B, 3, 64, 64] -> [B, 64, 14, 14]``, ``[B, 3, 84, 84] -> [B, 64, 19, 19]``.
``conv4-pool``  the ProtoNet / MatchingNet / MAML encoder (Snell et al., NeurIPS 2017):
                every block padded and pooled; ``[B, 3, 84, 84] -> [B, 64, 5, 5]``.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """Conv3x3 + BatchNorm + ReLU, then an optional 2x2 max-pool (the conv has no bias: BN removes it)."""

    def __init__(self, in_channels: int, out_channels: int, padding: int, pool: bool) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=padding, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        if pool:
            layers.append(nn.MaxPool2d(2))
        super().__init__(*layers)


class Conv4(nn.Module):
    """Four :class:`ConvBlock` s; ``forward([B, in_channels, H, W]) -> [B, hidden, h, w]``.

    ``pool_every_block=False`` is the RelationNet/CRN encoder (registered as ``conv4``),
    ``True`` the ProtoNet Conv-4 (registered as ``conv4-pool``); see the module docstring.
    """

    def __init__(self, in_channels: int = 3, hidden: int = 64, pool_every_block: bool = False) -> None:
        super().__init__()
        if pool_every_block:
            specs = [(1, True)] * 4
        else:
            specs = [(0, True), (0, True), (1, False), (1, False)]
        channels = [in_channels] + [hidden] * 4
        self.blocks = nn.Sequential(
            *(ConvBlock(channels[i], channels[i + 1], padding, pool) for i, (padding, pool) in enumerate(specs))
        )
        self.in_channels = in_channels
        self.out_channels = hidden
        self.pool_every_block = pool_every_block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, H, W] -> [B, hidden, h, w]``."""
        return self.blocks(x)


def conv4_pool(in_channels: int = 3, hidden: int = 64) -> Conv4:
    """The ProtoNet Conv-4 (padding 1 and a pool after every block)."""
    return Conv4(in_channels=in_channels, hidden=hidden, pool_every_block=True)


EMBEDDERS = {"conv4": Conv4, "conv4-pool": conv4_pool}
