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


def random_crop(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Shift each image by up to ``padding`` pixels: pad (edge-replicated), then crop back at a random offset.

    ``[B, C, H, W] -> [B, C, H, W]``, any dtype; one offset pair per image from ``generator``;
    one gather for the whole batch.
    """
    if padding <= 0:
        return images
    batch, _, height, width = images.shape
    padded = torch.nn.functional.pad(images.float() if not images.is_floating_point() else images,
                                     (padding,) * 4, mode="replicate").to(images.dtype)
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(images.device)
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # [B, H]
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # [B, W]
    b = torch.arange(batch, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def colour_jitter(
    images: torch.Tensor, generator: torch.Generator, brightness: float = 0.4, contrast: float = 0.4,
    saturation: float = 0.4,
) -> torch.Tensor:
    """Per-image brightness, contrast and saturation factors, each uniform in ``[1 - s, 1 + s]``.

    Float ``[B, 3, H, W]`` in [0, 1] -> the same, clamped: brightness scales the image,
    contrast blends it with its mean grey level, saturation with its grey image (the
    luma weights of ITU-R BT.601, as torchvision's ``rgb_to_grayscale``).
    """
    batch = images.shape[0]
    factors = 1 + (2 * torch.rand(3, batch, generator=generator) - 1) * torch.tensor([[brightness], [contrast], [saturation]])
    b, c, s = (f.to(images.device, images.dtype).view(-1, 1, 1, 1) for f in factors)
    weights = torch.tensor([0.299, 0.587, 0.114], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    x = (images * b).clamp(0, 1)
    grey_level = (x * weights).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    x = ((x - grey_level) * c + grey_level).clamp(0, 1)
    grey = (x * weights).sum(1, keepdim=True)
    return ((x - grey) * s + grey).clamp(0, 1)


def augment_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Pretraining's augmentation of a uint8 batch ``[B, 3, H, W]``: random crop (pad H/16), flip and
    colour jitter -> float in [0, 1] (for :class:`Normalise`)."""
    x = random_flip(random_crop(images, generator, padding=max(1, images.shape[-1] // 16)), generator)
    return colour_jitter(x.float() / 255.0, generator)


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
