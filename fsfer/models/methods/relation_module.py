"""The relation module g_phi of RelationNet (Sung et al., CVPR 2018), shared by CRN (Zhu et al., ESWA 2022).

A class map and a query map, concatenated on channels, go through two
[Conv3x3 -> BN -> ReLU -> MaxPool2] blocks and two fully connected layers to a relation
score in ``[0, 1]``. With the paper's 64x14x14 maps the convolutions are unpadded and
the flatten is 64x2x2 = 256.

The first convolution is linear in its input, so on a concatenation it splits:
``conv([c; q]) = conv_c(c) + conv_q(q)`` with the weights divided along the input
channels. :meth:`RelationModule.forward` therefore convolves each class map and each
query map once and adds the results for every (query, class) pair, instead of
convolving all ``n_query * n_way`` concatenations: the same numbers (up to float
rounding) with about ``n_way * n_query / (n_way + n_query)`` times fewer multiply-adds
in that layer, which dominates the method's cost.

For maps smaller than 10x10 (too small for two unpadded
conv + pool stages, e.g. ResNet-12's 5x5) the convolutions are padded by 1 and the pools
round up, so that any map size >= 1 works; the FC input size is computed from the map
size given at construction.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fsfer.errors import ModelError

MIN_UNPADDED = 10  # the smallest map side that survives two unpadded conv3x3 + 2x2-pool stages


class RelationBlock(nn.Sequential):
    """Conv3x3 + BN + ReLU + 2x2 max-pool; ``padded`` keeps the size through the conv and rounds the pool up."""

    def __init__(self, in_channels: int, out_channels: int, padded: bool) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1 if padded else 0, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=padded),
        )

    @staticmethod
    def out_size(size: int, padded: bool) -> int:
        """The side of the block's output for a side ``size`` input."""
        return math.ceil(size / 2) if padded else (size - 2) // 2


class RelationModule(nn.Module):
    """g_phi: ``(class_maps [n_way, C, h, w], query_maps [n_query, C, h, w]) -> scores [n_query, n_way]``.

    ``in_channels`` is ``C`` (the first conv takes ``2 C``), ``map_size`` is ``(h, w)``.
    Layers: [Conv3x3 2C->hidden, BN, ReLU, MaxPool2] -> [Conv3x3 hidden->hidden, BN, ReLU,
    MaxPool2] -> FC hidden*s*s -> fc_hidden + ReLU -> FC fc_hidden -> 1 + sigmoid.
    """

    def __init__(self, in_channels: int, map_size: tuple[int, int], hidden: int = 64, fc_hidden: int = 8) -> None:
        super().__init__()
        height, width = map_size
        if height < 1 or width < 1:
            raise ModelError(f"relation module: map size must be positive; got {map_size}")
        padded = min(height, width) < MIN_UNPADDED
        self.in_channels = in_channels
        self.map_size = (int(height), int(width))
        self.padded = padded
        self.block1 = RelationBlock(2 * in_channels, hidden, padded)
        self.block2 = RelationBlock(hidden, hidden, padded)
        out_h = RelationBlock.out_size(RelationBlock.out_size(height, padded), padded)
        out_w = RelationBlock.out_size(RelationBlock.out_size(width, padded), padded)
        self.fc1 = nn.Linear(hidden * out_h * out_w, fc_hidden)
        self.fc2 = nn.Linear(fc_hidden, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The initialisation of Sung et al.'s released RelationNet code: convolutions N(0, 2 / (k*k*out)),
        BatchNorm weight 1 and bias 0, linear layers N(0, 0.01) with bias 1.

        The bias of 1 starts every hidden unit of ``fc1`` active. With PyTorch's default
        initialisation some seeds start (or soon end) with all of fc1's 8 units dead after
        the ReLU: every pair then gets the same score, the argmax is always the first way
        and accuracy is exactly 1/n_way. Measured on SynthFER (5-way 1-shot, 32 px, 400
        episodes), seed 2 of both crn and relation ended so; with this initialisation it learns.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.ones_(module.bias)

    def pair_scores(self, pairs: torch.Tensor) -> torch.Tensor:
        """``[P, 2C, h, w]`` concatenated (class, query) maps -> relation scores ``[P]`` in ``[0, 1]``."""
        out = self.block2(self.block1(pairs)).flatten(1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(out)))).squeeze(1)

    def forward(self, class_maps: torch.Tensor, query_maps: torch.Tensor) -> torch.Tensor:
        """Every query against every class: ``[n_way, C, h, w]``, ``[n_query, C, h, w]`` -> ``[n_query, n_way]``."""
        expected = (self.in_channels, *self.map_size)
        for what, maps in (("class", class_maps), ("query", query_maps)):
            if tuple(maps.shape[1:]) != expected:
                raise ModelError(
                    f"relation module built for {expected[0]}x{expected[1]}x{expected[2]} maps got {what} maps "
                    f"{'x'.join(map(str, maps.shape[1:]))}; build the method with the image_size of the episodes"
                )
        return self.combine(self.class_terms(class_maps), self.query_terms(query_maps))

    def class_terms(self, class_maps: torch.Tensor) -> torch.Tensor:
        """The first convolution's share of the class maps: ``[n_way, C, h, w] -> [n_way, hidden, h', w']``."""
        conv = self.block1[0]
        return nn.functional.conv2d(class_maps, conv.weight[:, : self.in_channels], None, conv.stride, conv.padding)

    def query_terms(self, query_maps: torch.Tensor) -> torch.Tensor:
        """The first convolution's share of the query maps: ``[n_query, C, h, w] -> [n_query, hidden, h', w']``.

        It depends on nothing else in the episode, so an evaluation can compute it once per image.
        """
        conv = self.block1[0]
        return nn.functional.conv2d(query_maps, conv.weight[:, self.in_channels :], conv.bias, conv.stride, conv.padding)

    def first_block(self, maps: torch.Tensor) -> torch.Tensor:
        """The first block on each map paired with itself (``[x; x]``): ``[B, C, h, w] -> [B, hidden, h'', w'']``.

        What the module makes of a map on its own, for CRN's distance loss read on the
        relation module's input (``js_on = "relation"``). Its BatchNorm normalises with the
        batch's statistics in training and the running ones in evaluation, and never
        updates the running statistics (these self-pairs are not what the module scores).
        """
        conv, bn = self.block1[0], self.block1[1]
        x = self.class_terms(maps) + self.query_terms(maps)
        x = nn.functional.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                     training=self.training, momentum=0.0, eps=bn.eps)
        return self.block1[3](torch.relu(x))

    def combine(self, class_terms: torch.Tensor, query_terms: torch.Tensor) -> torch.Tensor:
        """Scores ``[n_query, n_way]`` from the two shares: their pairwise sums go through the rest of the module."""
        n_way, n_query = class_terms.shape[0], query_terms.shape[0]
        pairs = (query_terms.unsqueeze(1) + class_terms.unsqueeze(0)).flatten(0, 1)  # [n_query * n_way, hidden, h', w']
        for layer in list(self.block1)[1:]:  # BN, ReLU, pool of the first block
            pairs = layer(pairs)
        out = self.block2(pairs).flatten(1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(out)))).view(n_query, n_way)
