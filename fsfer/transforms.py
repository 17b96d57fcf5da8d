"""Batched tensor transforms, usable on the GPU: normalisation, augmentation, LBP.

They act on whole batches ``[B, 3, H, W]`` at once, so an episode gathered on a GPU
never returns to the CPU. Random transforms take an explicit ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Default normalisation: uint8 [0, 255] -> roughly [-1, 1].
DEFAULT_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
DEFAULT_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Normalise:
    """uint8 ``[B, 3, H, W]`` -> float ``(x / 255 - mean) / std``; float input is taken as already in [0, 1]."""

    mean: tuple[float, ...] = DEFAULT_MEAN
    std: tuple[float, ...] = DEFAULT_STD

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0 if not images.is_floating_point() else images
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std


def random_flip(images: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p`` (one draw per image, from ``generator``)."""
    flip = torch.rand(images.shape[0], generator=generator) < p
    if not bool(flip.any()):
        return images
    flip = flip.to(images.device)
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


#: LBP neighbour offsets (dy, dx), clockwise from the top-left, and their bit weights (top-left = 128 ... left = 1).
LBP_NEIGHBOURS: tuple[tuple[int, int, int], ...] = (
    (-1, -1, 128), (-1, 0, 64), (-1, 1, 32), (0, 1, 16), (1, 1, 8), (1, 0, 4), (1, -1, 2), (0, -1, 1),
)


def lbp(images: torch.Tensor) -> torch.Tensor:
    """Local binary patterns of every channel: ``[B, C, H, W] -> [B, C, H, W]`` float codes in 0..255.

    The classic 3x3 operator (8 neighbours at radius 1): each neighbour that is ``>=`` the
    centre sets its bit, clockwise from the top-left (bit weights 128, 64, 32, 16, 8, 4, 2, 1
    for top-left, top, top-right, right, bottom-right, bottom, bottom-left, left). Borders are
    replicated. One batched tensor op on the images' device (uint8 or float input; codes are
    returned in the input's float dtype, float32 for integer input). An increasing map of a
    channel (e.g. normalisation with positive std) leaves its codes unchanged.
    """
    if images.dim() != 4:
        raise ValueError(f"lbp takes [B, C, H, W] images; got shape {tuple(images.shape)}")
    x = images if images.is_floating_point() else images.float()
    height, width = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    codes = torch.zeros_like(x)
    for dy, dx, weight in LBP_NEIGHBOURS:
        neighbour = padded[..., 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        codes = codes + (neighbour >= x).to(x.dtype) * weight
    return codes
