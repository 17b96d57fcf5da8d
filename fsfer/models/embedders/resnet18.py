"""ResNet-18 trunk: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.

torchvision's ``resnet18(weights=None)`` without its average pool and classifier; the
trunk of DAN, DACL and (twice) VTFF. ``[B, 3, 224, 224] -> [B, 512, 7, 7]`` (stride 32;
``[B, 3, 32, 32] -> [B, 512, 1, 1]``). 11,176,512 parameters, about 1.81 GMACs at 224.

The submodules keep torchvision's names (``conv1``, ``bn1``, ``layer1`` .. ``layer4``), so
a torchvision-layout state dict (torchvision's own weights, or the MS-Celeb-1M ResNet-18
files distributed with DAN and DACL) loads as it is: ``weights="file.pth"``; see
:mod:`fsfer.models.embedders.weights`. Random initialisation (torchvision's) otherwise.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18 as tv_resnet18

from fsfer.models.embedders.weights import RESNET18, WeightsReport, load_weights

TRUNK_PARTS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


class ResNet18Trunk(nn.Module):
    """torchvision ResNet-18 up to ``layer4``: ``[B, 3, H, W] -> [B, 512, ceil(H/32), ceil(W/32)]``.

    ``weights``: a local state dict (torchvision layout, or this module's own); the load's
    counts are kept as ``weights_report`` (``None`` without a file).
    """

    def __init__(self, weights: str = "") -> None:
        super().__init__()
        full = tv_resnet18(weights=None)
        for name in TRUNK_PARTS:
            self.add_module(name, getattr(full, name))
        self.in_channels = 3
        self.out_channels = 512
        self.weights_report: WeightsReport | None = None
        if weights:
            self.weights_report = load_weights(self, weights, RESNET18, ("",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W] -> [B, 512, h, w]``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def resnet18(weights: str = "") -> ResNet18Trunk:
    """The ``resnet18`` embedder: the feature map is layer4's ``[B, 512, h, w]`` (7x7 at 224)."""
    return ResNet18Trunk(weights=weights)


EMBEDDERS = {"resnet18": resnet18}
