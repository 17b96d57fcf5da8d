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
