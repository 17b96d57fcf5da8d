"""DACL: Farzaneh and Qi, "Facial Expression Recognition in the Wild via Deep Attentive Center Loss",
WACV 2021; facts from the official code (amirhfarzaneh/dacl), see ``backbones.md``.

A ResNet-18 whose deep features are pulled towards class centres by the **sparse center
loss**, each feature element weighted by an attention score:

- :class:`ContextEncoder` (CE unit): the layer4 map flattened (512x7x7 = 25,088 at 224)
  -> FC 3584 -> BN -> ReLU -> FC 512 -> BN -> ReLU -> FC 64 -> BN -> **tanh**: ``e`` (64-d).
  Other input sizes: the map is first adaptive-average-pooled to ``context_size`` x
  ``context_size`` (7x7; the identity at 224), so the FC keeps its 25,088 inputs and the
  layer sizes (and any weights) stay those of the paper.
- :class:`MultiHeadBinaryClassifier` (MHBC): Linear 64 -> 2 x 512, a softmax within each
  pair, the "select" probability (the second of each pair) kept: ``A`` in (0, 1)^512, one
  binary head per feature element (512 heads).
- :class:`SparseCenterLoss`: ``L_sc = 1/(2m) sum_i sum_j a_ij (x_ij - c_{y_i, j})^2`` over the
  m images, ``x`` the 512-d GAP feature; gradients reach ``x`` and ``A`` (the attention
  branch is trained only through it). Weighted by ``lambda = 0.01``.

**Centres** (``[num_classes, 512]``, ``num_classes`` 8 by default; global class ids must lie
below it): a *buffer*, not a parameter -- the main optimiser never sees them. They follow
the paper's moving-average rule, applied in :meth:`DACL.aux_losses` when the module is in
training mode, *after* the loss has been computed with the old centres::

    delta_c_j = sum_{i: y_i = j} a_i * (c_j - x_i) / (1 + n_j)     (x, a detached; n_j = #images of class j)
    c_j      <- c_j - alpha * delta_c_j                            (alpha = 0.5; not scaled by lambda)

which is the official code's custom backward stepped by its own SGD at lr alpha. Classes
absent from the batch do not move. Init: Kaiming-normal on the transposed centre matrix
(std = sqrt(2 / num_classes)), as in the code.

The embedder (``dacl``): ``forward([B, 3, H, W]) -> [B, 512, h, w]``, the ResNet-18 layer4
map (7x7 at 224; the paper's embedding is its GAP). The attention branch is used only by
``aux_losses(features, global_labels) -> {"sparse_center": 0.01 * L_sc}``, which recomputes
``A`` and ``x`` from ``features`` (the maps handed over are exactly what the CE unit takes),
so nothing is kept between calls. Size: ResNet-18 11.18M (1.81 GMACs at 224) + attention
branch 91.86M (the 25,088 -> 3,584 FC alone is 89.9M) = 103.0M with the paper's 7-class fc.
``weights``: a local ResNet-18 state dict (torchvision layout, e.g. DACL's MS-Celeb-1M
file) for the trunk, or a saved ``dacl`` state dict.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fsfer.errors import ModelError
from fsfer.models.embedders.resnet18 import ResNet18Trunk
from fsfer.models.embedders.weights import RESNET18, WeightsReport, load_weights


class ContextEncoder(nn.Module):
    """CE unit: ``[B, C, h, w] -> e [B, hidden[-1]]`` (pool to ``grid`` x ``grid``, flatten, FC-BN-ReLU x2, FC-BN-tanh)."""

    def __init__(self, in_channels: int = 512, grid: int = 7, hidden: Sequence[int] = (3584, 512, 64)) -> None:
        super().__init__()
        if len(hidden) < 1:
            raise ModelError("DACL's context encoder needs at least one layer width")
        self.pool = nn.AdaptiveAvgPool2d(grid)
        widths = [in_channels * grid * grid, *hidden]
        layers: list[nn.Module] = []
        for i in range(len(hidden)):
            layers += [nn.Linear(widths[i], widths[i + 1]), nn.BatchNorm1d(widths[i + 1])]
            layers.append(nn.ReLU(inplace=True) if i < len(hidden) - 1 else nn.Tanh())
        self.layers = nn.Sequential(*layers)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.layers(self.pool(maps).flatten(1))


class MultiHeadBinaryClassifier(nn.Module):
    """MHBC: ``e [B, D] -> A [B, heads]``, the softmax "select" probability of ``heads`` two-way classifiers."""

    def __init__(self, in_dim: int = 64, heads: int = 512) -> None:
        super().__init__()
        self.heads = heads
        self.classifiers = nn.Linear(in_dim, 2 * heads)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.classifiers(e).view(-1, self.heads, 2).softmax(dim=-1)[..., 1]


class AttentionNetwork(nn.Module):
    """DACL's attention branch: :class:`ContextEncoder` then :class:`MultiHeadBinaryClassifier`; ``[B, C, h, w] -> [B, C]``."""

    def __init__(self, channels: int = 512, grid: int = 7, hidden: Sequence[int] = (3584, 512, 64)) -> None:
        super().__init__()
        self.context = ContextEncoder(channels, grid, hidden)
        self.mhbc = MultiHeadBinaryClassifier(hidden[-1], channels)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.mhbc(self.context(maps))


class SparseCenterLoss(nn.Module):
    """The sparse center loss with moving-average centres (a buffer ``centers [num_classes, dim]``).

    ``forward(x [m, dim], a [m, dim], labels [m]) -> 1/(2m) sum_ij a_ij (x_ij - c_{y_i j})^2``;
    :meth:`update` applies the centre rule of the module docstring.
    """

    def __init__(self, num_classes: int = 8, dim: int = 512, alpha: float = 0.5) -> None:
        super().__init__()
        centers = torch.empty(num_classes, dim)
        nn.init.kaiming_normal_(centers.t())
        self.register_buffer("centers", centers)
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor, a: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        centres = self.centers[labels].to(x.dtype)  # a copy: the update below cannot disturb the graph
        return (a * (x - centres).pow(2)).sum() / (2 * x.shape[0])

    @torch.no_grad()
    def update(self, x: torch.Tensor, a: torch.Tensor, labels: torch.Tensor) -> None:
        """``c_j <- c_j - alpha * sum_{i: y_i = j} a_i (c_j - x_i) / (1 + n_j)`` for every class j."""
        x, a = x.detach().to(self.centers.dtype), a.detach().to(self.centers.dtype)
        weighted = a * (self.centers[labels] - x)  # [m, dim]
        delta = torch.zeros_like(self.centers).index_add_(0, labels, weighted)
        counts = torch.bincount(labels, minlength=self.centers.shape[0]).to(self.centers.dtype)
        self.centers.sub_(self.alpha * delta / (1 + counts)[:, None])


class DACL(nn.Module):
    """The ``dacl`` embedder: ResNet-18, ``forward([B, 3, H, W]) -> [B, 512, h, w]``; aux loss ``sparse_center``.

    Options: ``num_classes`` (centres, 8), ``lambda_sc`` (0.01), ``alpha`` (centre rate,
    0.5), ``context_size`` (7), ``hidden`` (CE widths, (3584, 512, 64)), ``weights``.
    """

    def __init__(
        self,
        num_classes: int = 8,
        lambda_sc: float = 0.01,
        alpha: float = 0.5,
        context_size: int = 7,
        hidden: Sequence[int] = (3584, 512, 64),
        weights: str = "",
    ) -> None:
        super().__init__()
        self.trunk = ResNet18Trunk()
        channels = self.trunk.out_channels
        self.attention = AttentionNetwork(channels, context_size, tuple(hidden))
        self.sparse_center = SparseCenterLoss(num_classes, channels, alpha)
        self.in_channels = 3
        self.out_channels = channels
        self.num_classes = num_classes
        self.lambda_sc = float(lambda_sc)
        self.aux_modules = ("attention",)
        self.weights_report: WeightsReport | None = None
        if weights:
            self.weights_report = load_weights(self, weights, RESNET18, ("trunk.",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W] -> [B, 512, h, w]`` (layer4)."""
        return self.trunk(x)

    def aux_losses(self, features: torch.Tensor, global_labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"sparse_center": lambda * L_sc}`` on ``features`` ``[N, 512, h, w]``; in training mode the centres then move."""
        labels = global_labels.long()
        if labels.numel() and int(labels.max()) >= self.num_classes:
            raise ModelError(
                f"DACL has {self.num_classes} class centres but got class id {int(labels.max())}; "
                f"build it with num_classes >= {int(labels.max()) + 1}"
            )
        a = self.attention(features)
        x = features.mean(dim=(2, 3))
        loss = self.sparse_center(x, a, labels)
        if self.training:
            self.sparse_center.update(x, a, labels)
        return {"sparse_center": self.lambda_sc * loss}


EMBEDDERS = {"dacl": DACL}
