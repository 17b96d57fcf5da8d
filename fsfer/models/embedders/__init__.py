"""Embedders: backbones that map face images to feature maps.

The contract (see ``DESIGN.md``): an embedder is an ``nn.Module`` with

- ``forward(x [B, 3, H, W]) -> [B, C, h, w]`` (a feature map, never pooled to a vector),
- an ``out_channels`` attribute (``C``), and an ``in_channels`` attribute when the input
  is not 3-channel (methods that size layers by a dry run read it; default 3),
- optionally ``aux_losses(features [B, C, h, w], global_labels [B]) -> dict[str, Tensor]``:
  the paper's auxiliary losses (already weighted), computed on the features of an
  episode's support and query images with their *global* class ids. Methods call it when
  present and add its entries to their own losses dict (key clashes are refused).

Constructors are registered by name in :mod:`fsfer.models.registry`; each module here
exposes ``EMBEDDERS = {name: constructor}``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from fsfer.models.embedders.conv4 import Conv4, ConvBlock
from fsfer.models.embedders.resnet12 import ResidualBlock, ResNet12


@runtime_checkable
class AuxLossEmbedder(Protocol):
    """An embedder with auxiliary losses (e.g. DAN's affinity and partition losses)."""

    out_channels: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def aux_losses(self, features: torch.Tensor, global_labels: torch.Tensor) -> dict[str, torch.Tensor]: ...


__all__ = ["AuxLossEmbedder", "Conv4", "ConvBlock", "ResNet12", "ResidualBlock"]
