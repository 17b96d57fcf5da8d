"""TransFER: Xue, Wang, Guo, "TransFER: Learning Relation-aware Facial Expression Representations with
Transformers", ICCV 2021; facts from the official PaddlePaddle code (youqingxiaozhua/APViT
``/Paddle``: ``trans_fer.py``, ``la_max.py``, ``configs/RAF/TransFER.yaml``), see ``backbones.md``.

- **Stem CNN**: IR-50 (:mod:`fsfer.models.embedders.irse`) up to stage 3 (units 3/4/14,
  channels 64/128/256): ``[B, 3, 112, 112] -> [B, 256, 14, 14]``.
- **Local CNNs** (:class:`LocalCNNs`): ``B = 2`` :class:`LANet` s, each 1x1 conv 256->16
  (C/16) -> BN -> ReLU -> 1x1 conv 16->1 -> BN -> sigmoid, one 1x14x14 attention map each;
  :class:`MultiAttentionDropping` (MAD, training only): each sample, with probability
  ``p1 = 0.6``, has one of its maps (drawn uniformly) set to zero; the maps are aggregated by
  an element-wise **max** and multiply the stem's map (broadcast over channels). (The code's
  diversity loss between LANet maps has weight 0 in the paper's config: left out.)
- **Tokens**: a 1x1 conv 256->768 (with bias), flattened: 196 tokens at 112, plus a class
  token and learned position embeddings (197x768, truncated-normal std 0.02).
- **ViT-FER** (:class:`~fsfer.models.embedders.attention.ClassTokenEncoder`): 8 pre-norm
  blocks, 8 heads (head dim 96), MLP ratio 3 (2304), GELU, no qkv bias, LayerNorm eps 1e-6,
  no dropout / drop-path, final LayerNorm; each block's self-attention with
  **Multi-head Self-Attention Dropping** (MSAD, ``p2 = 0.3``, training only: a chosen
  sample loses one head's output).

MAD and MSAD draw from torch's RNG (on the input's device), in training mode only, so a
run that saves and restores torch's RNG state replays them.

The embedder (``transfer``): ``forward([B, 3, H, W]) -> [B, 768, 1, 1]``, the class token
after the final LayerNorm as a 1x1 map. No auxiliary loss. Size: 17.61M (stem) + 0.008M
(LANets) + 0.197M (projection) + 47.39M (ViT-FER) = 65,212,486; with the paper's 7-class
head (Linear 768->7) 65,217,869 = 65.2M as published; about 15.3 GMACs at 112 (15.73G
cited). ``weights``: a local face.evoLVe IR-50 state dict for the stem (``body.21`` on and
``output_layer`` ignored), or a saved ``transfer`` state dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.errors import ModelError
from fsfer.models.embedders.attention import ClassTokenEncoder, map_to_tokens
from fsfer.models.embedders.irse import IR50_CHANNELS, IR50_UNITS, IRBackbone
from fsfer.models.embedders.weights import IR50, WeightsReport, load_weights


class LANet(nn.Module):
    """One local attention network: ``[B, C, h, w] -> [B, 1, h, w]`` in (0, 1)."""

    def __init__(self, channels: int = 256, ratio: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // ratio)
        self.layers = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 1, 1),
            nn.BatchNorm2d(1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MultiAttentionDropping(nn.Module):
    """MAD: maps ``[B, n, h, w]`` -> the same with, in training mode, one map of each chosen sample (prob ``p``) zeroed."""

    def __init__(self, p: float = 0.6) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ModelError(f"MAD drop probability must lie in [0, 1]; got {p}")
        self.p = float(p)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0:
            return maps
        batch, n = maps.shape[:2]
        chosen = torch.rand(batch, device=maps.device) < self.p
        which = torch.randint(0, n, (batch,), device=maps.device)
        drop = F.one_hot(which, n).bool() & chosen[:, None]
        return maps * (~drop).to(maps.dtype)[:, :, None, None]


class LocalCNNs(nn.Module):
    """``num`` :class:`LANet` s -> :class:`MultiAttentionDropping` -> element-wise max -> times the input.

    ``[B, C, h, w] -> [B, C, h, w]``; :meth:`attention_maps` gives the LANet maps ``[B, num, h, w]``.
    """

    def __init__(self, channels: int = 256, num: int = 2, ratio: int = 16, p1: float = 0.6) -> None:
        super().__init__()
        if num < 1:
            raise ModelError(f"TransFER needs at least one LANet; got {num}")
        self.lanets = nn.ModuleList(LANet(channels, ratio) for _ in range(num))
        self.mad = MultiAttentionDropping(p1)

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([lanet(x) for lanet in self.lanets], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        aggregated = self.mad(self.attention_maps(x)).amax(dim=1, keepdim=True)
        return x * aggregated


class TransFER(nn.Module):
    """The ``transfer`` embedder: ``forward([B, 3, H, W]) -> [B, 768, 1, 1]`` (the class token).

    Options: ``num_lanets`` (B, 2), ``p1`` (MAD, 0.6), ``p2`` (MSAD, 0.3), ``depth`` (8),
    ``num_heads`` (8), ``mlp_ratio`` (3), ``embed_dim`` (768), ``image_size`` (the reference
    input side for the position embeddings, 112 -> 14x14; other sizes are resampled), ``weights``.
    """

    def __init__(
        self,
        num_lanets: int = 2,
        p1: float = 0.6,
        p2: float = 0.3,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 3.0,
        embed_dim: int = 768,
        image_size: int = 112,
        weights: str = "",
    ) -> None:
        super().__init__()
        if not 0.0 <= p2 <= 1.0:
            raise ModelError(f"MSAD drop probability must lie in [0, 1]; got {p2}")
        self.stem = IRBackbone(IR50_UNITS, IR50_CHANNELS, stages=3)
        channels = self.stem.out_channels
        self.local_cnns = LocalCNNs(channels, num_lanets, 16, p1)
        self.projection = nn.Conv2d(channels, embed_dim, 1)
        side = -(-int(image_size) // 8)
        self.vit = ClassTokenEncoder(embed_dim, depth, num_heads, mlp_ratio, grid=(side, side), head_drop=p2)
        self.in_channels = 3
        self.out_channels = embed_dim
        self.weights_report: WeightsReport | None = None
        if weights:
            self.weights_report = load_weights(self, weights, IR50, ("stem.",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B, 768, 1, 1]``."""
        tokens, grid = map_to_tokens(self.projection(self.local_cnns(self.stem(x))))
        return self.vit(tokens, grid)[:, :, None, None]


class TransFERClassifier(nn.Module):
    """The paper's network whole: :class:`TransFER` + Linear 768->C (zero-initialised weights); ``[B, 3, H, W] -> [B, C]``."""

    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()
        self.embedder = TransFER()
        self.head = nn.Linear(self.embedder.out_channels, num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedder(x).flatten(1))


EMBEDDERS = {"transfer": TransFER}
