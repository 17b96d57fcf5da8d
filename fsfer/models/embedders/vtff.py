"""VTFF: Ma, Sun, Li, "Facial Expression Recognition with Visual Transformers and Attentional Selective
Fusion", IEEE Trans. Affective Computing 14(2):1236-1248, 2023 (arXiv 2103.16854).

No official code or weights exist; what is **verified** (the abstract) is the outline: two
CNN branches (RGB and LBP) -> Attentional Selective Fusion (a global-local attention) ->
the fused map flattened and projected to "visual words" -> a Transformer encoder with
self-attention -> classification (RAF-DB 88.14, FERPlus 88.81, AffectNet 61.85).
Everything finer is **unverified**, taken from the seed review (seeds/001) and two
third-party ports (see ``backbones.md``); each choice is an option:

- inputs: the RGB face into one ResNet-18, and its LBP image into another; the LBP is
  computed on the fly from each RGB channel by :func:`fsfer.transforms.lbp` (8 neighbours,
  radius 1, codes 0..255, on the images' device), scaled to [-1, 1] (``code / 127.5 - 1``).
  LBP compares pixels within a channel only, so it gives the same codes on normalised
  images as on raw ones (normalisation is increasing per channel);
- :class:`AttentionalSelectiveFusion` (ASF): ``U = W_L X_lbp + W_C X_rgb`` (1x1 convs C->C);
  global path GAP -> 1x1 conv C->C/r -> BN -> ReLU -> 1x1 conv C/r->C -> BN (``[B, C, 1, 1]``);
  local path 1x1 conv C->C/r -> BN -> ReLU -> 1x1 conv C/r->1 -> BN (``[B, 1, h, w]``);
  ``M = sigmoid(G (+) L)`` (broadcast add); ``X = M * X_lbp + (1 - M) * X_rgb``.
  ``reduction`` r = 8 (both ports; the seed's "R = 32" is the CNN's stride, another
  number); ReLU as the inner activation (the FLOP-counting port uses sigmoid: unverified);
- tokens: 1x1 conv C->768, one token per map position (49 at 224), a class token and
  learned position embeddings, then the encoder (:class:`~fsfer.models.embedders.attention.ClassTokenEncoder`).
  Defaults ``depth = 8, num_heads = 8, mlp_ratio = 3, embed_dim = 768`` follow the port by
  the TransFER/APViT authors (a student port has 4 layers and MLP 3072): **unverified**.

The embedder (``vtff``): ``forward([B, 3, H, W]) -> [B, 768, 1, 1]``, the class token after
the final LayerNorm as a 1x1 map. No auxiliary loss. Size with the defaults: 2 x 11.18M +
0.63M (ASF) + 0.39M (projection) + 47.29M (encoder) = 70.7M (no published figure).
``weights``: a local ResNet-18 state dict (torchvision layout; the seed review says both
branches start from MS-Celeb-1M) loaded into *both* branches, or a saved ``vtff`` state dict.
"""

from __future__ import annotations

import torch
from torch import nn

from fsfer.errors import ModelError
from fsfer.models.embedders.attention import ClassTokenEncoder, map_to_tokens
from fsfer.models.embedders.resnet18 import ResNet18Trunk
from fsfer.models.embedders.weights import RESNET18, WeightsReport, load_weights
from fsfer.transforms import lbp


class LBPImage(nn.Module):
    """``[B, 3, H, W]`` images -> their per-channel LBP codes scaled to [-1, 1] (``code / 127.5 - 1``)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return lbp(images) / 127.5 - 1.0


class GlobalAttention(nn.Module):
    """ASF's global path: ``U [B, C, h, w] -> [B, C, 1, 1]`` (GAP, 1x1 conv C->C/r, BN, ReLU, 1x1 conv C/r->C, BN)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.layers = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.layers(u)


class LocalAttention(nn.Module):
    """ASF's local path: ``U [B, C, h, w] -> [B, 1, h, w]`` (1x1 conv C->C/r, BN, ReLU, 1x1 conv C/r->1, BN)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.layers = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 1, 1),
            nn.BatchNorm2d(1),
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.layers(u)


class AttentionalSelectiveFusion(nn.Module):
    """ASF: ``(X_rgb, X_lbp) [B, C, h, w] -> X_fused [B, C, h, w]`` (see the module docstring)."""

    def __init__(self, channels: int = 512, reduction: int = 8) -> None:
        super().__init__()
        if reduction < 1:
            raise ModelError(f"ASF reduction ratio must be >= 1; got {reduction}")
        self.w_lbp = nn.Conv2d(channels, channels, 1)
        self.w_rgb = nn.Conv2d(channels, channels, 1)
        self.global_attention = GlobalAttention(channels, reduction)
        self.local_attention = LocalAttention(channels, reduction)

    def weights(self, x_rgb: torch.Tensor, x_lbp: torch.Tensor) -> torch.Tensor:
        """The fusion weight map ``M = sigmoid(G(U) + L(U))`` ``[B, C, h, w]``, the LBP map's share."""
        u = self.w_lbp(x_lbp) + self.w_rgb(x_rgb)
        return torch.sigmoid(self.global_attention(u) + self.local_attention(u))

    def forward(self, x_rgb: torch.Tensor, x_lbp: torch.Tensor) -> torch.Tensor:
        m = self.weights(x_rgb, x_lbp)
        return m * x_lbp + (1 - m) * x_rgb


class VTFF(nn.Module):
    """The ``vtff`` embedder: ``forward([B, 3, H, W]) -> [B, embed_dim, 1, 1]`` (the class token).

    Options: ``depth``, ``num_heads``, ``mlp_ratio``, ``embed_dim`` (encoder; defaults
    unverified, see the module docstring), ``reduction`` (ASF's r, 8), ``image_size``
    (the reference input side for the position embeddings, 224 -> a 7x7 grid; other sizes
    are resampled), ``weights``.
    """

    def __init__(
        self,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 3.0,
        embed_dim: int = 768,
        reduction: int = 8,
        image_size: int = 224,
        weights: str = "",
    ) -> None:
        super().__init__()
        self.lbp = LBPImage()
        self.rgb_branch = ResNet18Trunk()
        self.lbp_branch = ResNet18Trunk()
        channels = self.rgb_branch.out_channels
        self.fusion = AttentionalSelectiveFusion(channels, reduction)
        self.projection = nn.Conv2d(channels, embed_dim, 1)
        side = -(-int(image_size) // 32)
        self.encoder = ClassTokenEncoder(embed_dim, depth, num_heads, mlp_ratio, grid=(side, side))
        self.in_channels = 3
        self.out_channels = embed_dim
        self.weights_report: WeightsReport | None = None
        if weights:
            self.weights_report = load_weights(self, weights, RESNET18, ("rgb_branch.", "lbp_branch."))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` (normalised RGB) -> ``[B, embed_dim, 1, 1]``."""
        fused = self.fusion(self.rgb_branch(x), self.lbp_branch(self.lbp(x)))
        tokens, grid = map_to_tokens(self.projection(fused))
        return self.encoder(tokens, grid)[:, :, None, None]


EMBEDDERS = {"vtff": VTFF}
