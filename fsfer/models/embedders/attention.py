"""Shared Transformer pieces of VTFF and TransFER: a class-token encoder over feature-map tokens,
with TransFER's Multi-head Self-Attention Dropping (Xue, Wang, Guo, "TransFER: Learning
Relation-aware Facial Expression Representations with Transformers", ICCV 2021).

- :class:`MultiHeadSelfAttentionDropping` (MSAD): timm's multi-head self-attention in which,
  in training mode, each sample is chosen with probability ``drop_prob`` and one of its heads,
  drawn uniformly, has its output zeroed (as if that self-attention branch were removed;
  the official Paddle port zeroes a slice of the token axis instead, which reads as a
  porting slip of the same intent). The draws use torch's RNG on the input's device. With
  ``drop_prob = 0`` (and in eval mode) it is timm's ``Attention``.
- :class:`ClassTokenEncoder`: tokens ``[B, N, D]`` from an ``h x w`` map -> a learnable class
  token prepended, learnable position embeddings added (truncated-normal std 0.02, sized
  for a reference grid and resampled bicubically by timm for other grids), ``depth``
  pre-norm timm ``Block`` s (GELU MLP, no qkv bias, LayerNorm eps 1e-6, no dropout or
  drop-path), a final LayerNorm; returns the class token ``[B, D]``.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import Attention, resample_abs_pos_embed, trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn


class MultiHeadSelfAttentionDropping(Attention):
    """timm ``Attention`` plus MSAD: ``[B, N, D] -> [B, N, D]``; ``drop_prob`` is set after construction (0 by default)."""

    drop_prob: float = 0.0

    def head_mask(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
        """``[B, heads, 1, 1]`` of 0/1 (one zero in a chosen sample's row), or ``None`` when nothing is dropped."""
        if not self.training or self.drop_prob <= 0:
            return None
        chosen = torch.rand(batch, device=device) < self.drop_prob
        which = torch.randint(0, self.num_heads, (batch,), device=device)
        drop = F.one_hot(which, self.num_heads).bool() & chosen[:, None]
        return (~drop).to(dtype)[:, :, None, None]

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.attn_drop.p if self.training else 0.0, is_causal=is_causal
        )  # [B, heads, N, head_dim]
        mask = self.head_mask(batch, x.device, out.dtype)
        if mask is not None:
            out = out * mask
        out = self.norm(out.transpose(1, 2).reshape(batch, tokens, self.attn_dim))
        return self.proj_drop(self.proj(out))


class ClassTokenEncoder(nn.Module):
    """``tokens [B, h*w, D], (h, w) -> class token [B, D]`` (see the module docstring).

    ``grid`` is the reference token grid the position embeddings are sized for (e.g. 14x14
    for TransFER at 112, 7x7 for VTFF at 224); ``head_drop`` is MSAD's p2 (0 disables it).
    """

    def __init__(
        self,
        embed_dim: int = 768,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 3.0,
        grid: tuple[int, int] = (14, 14),
        head_drop: float = 0.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=norm_eps)
        self.grid = (int(grid[0]), int(grid[1]))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], embed_dim))
        self.blocks = nn.Sequential(
            *(
                Block(
                    embed_dim,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=False,
                    norm_layer=norm_layer,
                    attn_layer=MultiHeadSelfAttentionDropping,
                )
                for _ in range(depth)
            )
        )
        for block in self.blocks:
            block.attn.drop_prob = float(head_drop)
        self.norm = norm_layer(embed_dim)
        self.embed_dim = embed_dim
        self.apply(_init_vit)
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)

    def position_embedding(self, grid: tuple[int, int]) -> torch.Tensor:
        """``[1, 1 + h*w, D]``: the learned embeddings, resampled when ``grid`` is not the reference grid."""
        if tuple(grid) == self.grid:
            return self.pos_embed
        return resample_abs_pos_embed(self.pos_embed, list(grid), list(self.grid), num_prefix_tokens=1)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        x = torch.cat([cls, tokens], dim=1) + self.position_embedding(grid)
        return self.norm(self.blocks(x))[:, 0]


def _init_vit(module: nn.Module) -> None:
    """timm's ViT init: Linear weights truncated-normal std 0.02, biases 0; LayerNorm 1, 0."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def map_to_tokens(maps: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``[B, D, h, w] -> ([B, h*w, D], (h, w))`` (row-major token order)."""
    return maps.flatten(2).transpose(1, 2), (int(maps.shape[2]), int(maps.shape[3]))
