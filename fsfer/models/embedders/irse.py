"""IR-50: the improved-residual ResNet-50 of ArcFace (Deng, Guo, Xue, Zafeiriou, "ArcFace: Additive
Angular Margin Loss for Deep Face Recognition", CVPR 2019), in the layout of face.evoLVe's
``backbone/model_irse.py`` (Zhao et al.); the stem of TransFER.

- input layer: 3x3 conv 3->64 (stride 1, no bias) -> BN -> PReLU; no max-pool;
- :class:`BottleneckIR` units (two 3x3 convs despite the name): BN -> conv3x3 (stride 1) ->
  PReLU -> conv3x3 (stride s) -> BN [-> :class:`SEModule` in IR-SE], plus a shortcut
  (1x1 max-pool of stride s when the width is kept, else 1x1 conv of stride s + BN);
  the output is the plain sum;
- four stages of 3 / 4 / 14 / 3 units, 64 / 128 / 256 / 512 channels, the first unit of
  every stage (stage 1 included) with stride 2: 112 -> 56 -> 28 -> 14 -> 7.

The ``irse50`` embedder is the body without face.evoLVe's output layer (BN, dropout,
flatten, Linear 25088->512, BN1d): ``[B, 3, 112, 112] -> [B, 512, 7, 7]`` (``[B, 3, 224,
224] -> [B, 512, 14, 14]``). Body: 30.73M parameters, about 6.28 GMACs at 112; ``se=True``
gives IR-SE-50. Submodule names follow face.evoLVe (``input_layer``, ``body.N.res_layer``,
``body.N.shortcut_layer``), so ``backbone_ir50_ms1m_epoch120.pth`` loads as it is:
``weights="file.pth"`` (its ``output_layer.*`` is ignored); see
:mod:`fsfer.models.embedders.weights`. Random initialisation (Xavier-uniform convs, as
face.evoLVe) otherwise. Face normalisation in face.evoLVe: mean = std = 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fsfer.errors import ConfigError
from fsfer.models.embedders.weights import IR50, WeightsReport, load_weights

IR50_UNITS = (3, 4, 14, 3)
IR50_CHANNELS = (64, 128, 256, 512)


class SEModule(nn.Module):
    """Squeeze-and-excitation (Hu et al., CVPR 2018): GAP -> 1x1 conv C->C/r -> ReLU -> 1x1 conv -> sigmoid, times x.

    ``[B, C, H, W] -> [B, C, H, W]``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIR(nn.Module):
    """One IR unit: ``[B, in_channels, H, W] -> [B, depth, H/stride, W/stride]`` (see the module docstring)."""

    def __init__(self, in_channels: int, depth: int, stride: int, se: bool = False) -> None:
        super().__init__()
        if in_channels == depth:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, depth, 1, stride, bias=False), nn.BatchNorm2d(depth)
            )
        layers: list[nn.Module] = [
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        ]
        if se:
            layers.append(SEModule(depth, 16))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRBackbone(nn.Module):
    """The IR body: input layer + the units of the first ``stages`` stages.

    ``forward([B, 3, H, W]) -> [B, channels[stages-1], H / 2**stages, W / 2**stages]``;
    ``stages=4`` is IR-50 (512x7x7 at 112), ``stages=3`` TransFER's stem (256x14x14 at 112).
    ``weights``: a local face.evoLVe IR-50 state dict (or this module's own); counts in ``weights_report``.
    """

    def __init__(
        self,
        units: Sequence[int] = IR50_UNITS,
        channels: Sequence[int] = IR50_CHANNELS,
        stages: int = 4,
        se: bool = False,
        weights: str = "",
    ) -> None:
        super().__init__()
        if len(units) != len(channels) or not 1 <= stages <= len(units):
            raise ConfigError(f"IR backbone: stages must lie in 1..{len(units)} with one width per stage; got {stages}")
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)
        )
        blocks: list[nn.Module] = []
        width = 64
        for count, depth in list(zip(units, channels))[:stages]:
            for index in range(count):
                blocks.append(BottleneckIR(width, depth, 2 if index == 0 else 1, se=se))
                width = depth
        self.body = nn.Sequential(*blocks)
        self.in_channels = 3
        self.out_channels = int(width)
        self.stages = stages
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self.weights_report: WeightsReport | None = None
        if weights:
            self.weights_report = load_weights(self, weights, IR50, ("",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W] -> [B, out_channels, h, w]``."""
        return self.body(self.input_layer(x))


def irse50(se: bool = False, weights: str = "") -> IRBackbone:
    """The ``irse50`` embedder: IR-50 body (IR-SE-50 with ``se=True``), ``[B, 3, 112, 112] -> [B, 512, 7, 7]``."""
    return IRBackbone(IR50_UNITS, IR50_CHANNELS, stages=4, se=se, weights=weights)


EMBEDDERS = {"irse50": irse50}
