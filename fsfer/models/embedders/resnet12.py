"""ResNet-12: the standard few-shot residual backbone.

Four residual blocks (Lee et al., MetaOptNet, CVPR 2019; Oreshkin et al., TADAM, NeurIPS
2018), each three Conv3x3-BN-LeakyReLU(0.1) with a 1x1 conv + BN shortcut and a 2x2
max-pool; channels 64-160-320-640. ``[B, 3, 84, 84] -> [B, 640, 5, 5]``. The smallest
input is 16x16 (``-> [B, 640, 1, 1]``). DropBlock, used by some papers, is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Three Conv3x3-BN(-LeakyReLU) layers plus a 1x1 shortcut, LeakyReLU, 2x2 max-pool.

    ``[B, in_channels, H, W] -> [B, out_channels, H // 2, W // 2]``.
    """

    def __init__(self, in_channels: int, out_channels: int, negative_slope: float = 0.1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
        )
        self.act = nn.LeakyReLU(negative_slope)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.pool(self.act(out + self.shortcut(x)))


class ResNet12(nn.Module):
    """Four :class:`ResidualBlock` s; ``forward([B, in_channels, H, W]) -> [B, channels[-1], H/16, W/16]``.

    ``channels`` may be narrowed (e.g. ``(8, 16, 32, 64)``) for quick experiments.
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (64, 160, 320, 640),
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        widths = [in_channels, *channels]
        self.blocks = nn.Sequential(
            *(ResidualBlock(widths[i], widths[i + 1], negative_slope) for i in range(len(channels)))
        )
        self.in_channels = in_channels
        self.out_channels = int(widths[-1])
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="leaky_relu", a=negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, H, W] -> [B, out_channels, h, w]``."""
        return self.blocks(x)


EMBEDDERS = {"resnet12": ResNet12}
