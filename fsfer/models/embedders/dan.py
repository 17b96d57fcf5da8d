"""DAN: Wen, Lin, Wang, Xu, "Distract Your Attention: Multi-head Cross Attention Network for Facial
Expression Recognition", Biomimetics 8(2):199, 2023 (arXiv 2109.07270); facts from the
official code (yaoing/DAN), see ``backbones.md``.

Three parts, one class each:

- **FCN** (Feature Clustering Network), :class:`FeatureClusteringNetwork`: a ResNet-18 trunk
  (512x7x7 at 224) trained with the **affinity loss** (:class:`AffinityLoss`) on its
  global-average-pooled features ``x'`` (512-d):
  ``L_af = mean_i ||x'_i - c_{y_i}||^2 / sigma_c^2`` with ``sigma_c^2`` the sum over
  dimensions of the (unbiased) variance of the class centres across classes; each term is
  clamped to [1e-12, 1e12]. The centres are an ``nn.Parameter`` ``[num_classes, 512]``
  (standard-normal init) learned by the main optimiser, as in the paper; ``num_classes``
  defaults to 8 (the official code keeps 8 even for 7-class RAF-DB; every centre counts in
  ``sigma_c^2``).
- **MAN** (Multi-head cross Attention Network), :class:`MultiHeadCrossAttention`: ``num_heads``
  (4) :class:`CrossAttentionHead` s, not sharing weights, each a :class:`SpatialAttention`
  (1x1 conv 512->256 + BN; 3x3, 1x3 and 3x1 convs 256->512 + BN, summed, ReLU, summed over
  channels to a 1xhxw map that multiplies the input; no sigmoid) then a
  :class:`ChannelAttention` (GAP -> Linear 512->32 -> BN1d -> ReLU -> Linear 32->512 ->
  sigmoid, times the pooled vector): one 512-d vector per head.
- **AFN** (Attention Fusion Network), :class:`AttentionFusion`: the heads stacked
  ``[B, k, 512]``, log-softmax over the head axis (when k > 1), summed over heads: the
  fused 512-d vector; the classifier (Linear 512->C, BN1d(C)) is in :class:`DANClassifier`,
  not in the embedder. The **partition loss** (:class:`PartitionLoss`) acts on the
  log-softmaxed heads: ``L_pt = log(1 + k / (var + eps))``, ``var`` the unbiased variance
  across heads averaged over batch and channels, ``eps`` machine epsilon; 0 when k = 1.

The embedder (``dan``): ``forward([B, 3, H, W]) -> [B, 512, 1, 1]``, the AFN's fused vector
as a 1x1 map (``out_channels = 512``). ``aux_losses(features, global_labels)`` returns
``{"affinity": w_af * L_af, "partition": w_pt * L_pt}`` (both weights 1, as in the paper's
``CE + L_af + L_pt``) with the episode's global class ids as ``y``. Both losses need tensors
other than the output (the trunk's pooled features, the heads), so each forward records
them (:class:`~fsfer.models.embedders.records.ForwardRecords`, last 8 calls) and
``aux_losses`` takes those of the calls whose outputs make up ``features`` (e.g. the
support then the query maps, concatenated): the losses carry the graph of those calls.

Size: the 7-class classifier (trunk 11,176,512 + 4 heads of 2,135,904 + Linear + BN1d) has
19,723,733 parameters (paper: 19.72M; the 8x512 affinity centres are not in that count),
about 2.23 GMACs at 224. ``weights``: a local ResNet-18 state dict (torchvision layout, e.g.
DAN's ``resnet18_msceleb.pth``) for the trunk, or a saved ``dan`` state dict.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.errors import ModelError
from fsfer.models.embedders.records import ForwardRecords
from fsfer.models.embedders.resnet18 import ResNet18Trunk
from fsfer.models.embedders.weights import RESNET18, WeightsReport, load_weights

EPS = sys.float_info.epsilon


class SpatialAttention(nn.Module):
    """DAN's spatial unit: ``[B, C, h, w] -> [B, C, h, w]``, the input times a 1xhxw map (see the module docstring)."""

    def __init__(self, channels: int = 512, reduced: int = 256) -> None:
        super().__init__()
        self.conv1x1 = nn.Sequential(nn.Conv2d(channels, reduced, 1), nn.BatchNorm2d(reduced))
        self.conv_3x3 = nn.Sequential(nn.Conv2d(reduced, channels, 3, padding=1), nn.BatchNorm2d(channels))
        self.conv_1x3 = nn.Sequential(nn.Conv2d(reduced, channels, (1, 3), padding=(0, 1)), nn.BatchNorm2d(channels))
        self.conv_3x1 = nn.Sequential(nn.Conv2d(reduced, channels, (3, 1), padding=(1, 0)), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU()

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, h, w] -> [B, 1, h, w]``: the summed, ReLU'd branches summed over channels."""
        y = self.conv1x1(x)
        y = self.relu(self.conv_3x3(y) + self.conv_1x3(y) + self.conv_3x1(y))
        return y.sum(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)


class ChannelAttention(nn.Module):
    """DAN's channel unit: ``[B, C, h, w] -> [B, C]``, the pooled vector times sigmoid weights."""

    def __init__(self, channels: int = 512, reduced: int = 32) -> None:
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.attention = nn.Sequential(
            nn.Linear(channels, reduced),
            nn.BatchNorm1d(reduced),
            nn.ReLU(inplace=True),
            nn.Linear(reduced, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.gap(x).flatten(1)
        return pooled * self.attention(pooled)


class CrossAttentionHead(nn.Module):
    """One head of MAN: :class:`SpatialAttention` then :class:`ChannelAttention`; ``[B, C, h, w] -> [B, C]``."""

    def __init__(self, channels: int = 512) -> None:
        super().__init__()
        self.sa = SpatialAttention(channels)
        self.ca = ChannelAttention(channels)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.001)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ca(self.sa(x))


class MultiHeadCrossAttention(nn.Module):
    """MAN: ``num_heads`` independent :class:`CrossAttentionHead` s; ``[B, C, h, w] -> [B, num_heads, C]``."""

    def __init__(self, channels: int = 512, num_heads: int = 4) -> None:
        super().__init__()
        self.heads = nn.ModuleList(CrossAttentionHead(channels) for _ in range(num_heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([head(x) for head in self.heads], dim=1)


class AttentionFusion(nn.Module):
    """AFN without its classifier: heads ``[B, k, C]`` -> (log-softmaxed heads ``[B, k, C]``, fused ``[B, C]``).

    The log-softmax over the head axis applies when k > 1 (as in the paper's code); the
    fused vector is the sum over heads.
    """

    def forward(self, heads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if heads.shape[1] > 1:
            heads = F.log_softmax(heads, dim=1)
        return heads, heads.sum(dim=1)


class FeatureClusteringNetwork(nn.Module):
    """FCN: the ResNet-18 trunk, ``[B, 3, H, W] -> [B, 512, h, w]`` (its pooled output feeds the affinity loss)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = ResNet18Trunk()
        self.out_channels = self.trunk.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)


class AffinityLoss(nn.Module):
    """DAN's affinity loss with learnable centres ``[num_classes, dim]`` (standard-normal init).

    ``forward(x [N, dim], labels [N]) -> mean_i clamp(||x_i - c_{y_i}||^2 / sigma_c^2, 1e-12, 1e12)``,
    ``sigma_c^2 = sum_d var_k(c_{k, d})`` (unbiased).
    """

    def __init__(self, num_classes: int = 8, dim: int = 512) -> None:
        super().__init__()
        if num_classes < 2:
            raise ModelError(f"the affinity loss needs at least 2 class centres; got num_classes={num_classes}")
        self.centers = nn.Parameter(torch.randn(num_classes, dim))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        spread = self.centers.var(dim=0).sum()
        distance = (x - self.centers[labels]).pow(2).sum(dim=1) / spread
        return distance.clamp(min=1e-12, max=1e12).mean()


class PartitionLoss(nn.Module):
    """DAN's partition loss: heads ``[N, k, C]`` -> ``log(1 + k / (mean var_k + eps))``; 0 for k = 1."""

    def forward(self, heads: torch.Tensor) -> torch.Tensor:
        k = heads.shape[1]
        if k <= 1:
            return heads.new_zeros(())
        return torch.log1p(k / (heads.var(dim=1).mean() + EPS))


class DAN(nn.Module):
    """The ``dan`` embedder: FCN -> MAN -> AFN; ``forward([B, 3, H, W]) -> [B, 512, 1, 1]`` (the fused vector).

    Options: ``num_heads`` (4), ``num_classes`` (affinity centres, 8; global class ids must
    lie below it), ``affinity_weight`` and ``partition_weight`` (1, 1), ``weights`` (a local
    state dict, see the module docstring; counts in ``weights_report``).
    """

    def __init__(
        self,
        num_heads: int = 4,
        num_classes: int = 8,
        affinity_weight: float = 1.0,
        partition_weight: float = 1.0,
        weights: str = "",
    ) -> None:
        super().__init__()
        if num_heads < 1:
            raise ModelError(f"DAN needs at least one attention head; got num_heads={num_heads}")
        self.fcn = FeatureClusteringNetwork()
        channels = self.fcn.out_channels
        self.man = MultiHeadCrossAttention(channels, num_heads)
        self.afn = AttentionFusion()
        self.affinity = AffinityLoss(num_classes, channels)
        self.partition = PartitionLoss()
        self.in_channels = 3
        self.out_channels = channels
        self.num_heads = num_heads
        self.num_classes = num_classes
        self.affinity_weight = float(affinity_weight)
        self.partition_weight = float(partition_weight)
        self.aux_modules = ("affinity",)
        self._records = ForwardRecords()
        self.weights_report: WeightsReport | None = None
        if weights:
            self.weights_report = load_weights(self, weights, RESNET18, ("fcn.trunk.",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W] -> [B, 512, 1, 1]``; records the pooled trunk features and the heads for :meth:`aux_losses`."""
        maps = self.fcn(x)
        heads, fused = self.afn(self.man(maps))
        out = fused[:, :, None, None]
        self._records.add(out, pooled=maps.mean(dim=(2, 3)), heads=heads)
        return out

    def make_classifier(self, n_classes: int) -> nn.Module:
        """The paper's classifier on the fused vector: Linear 512->C then BatchNorm1d(C) (``[B, 512] -> [B, C]``).

        Classifier pretraining uses it in place of a plain linear layer: the fused vector is
        unnormalised (the spatial attention has no sigmoid), and the BN keeps the logits in range.
        """
        return nn.Sequential(nn.Linear(self.out_channels, n_classes), nn.BatchNorm1d(n_classes))

    def aux_losses(self, features: torch.Tensor, global_labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"affinity": w * L_af, "partition": w * L_pt}`` for the calls that produced ``features`` ``[N, 512, 1, 1]``.

        ``global_labels`` ``[N]`` are the class ids of the centres (``< num_classes``).
        """
        found = self._records.match(features, type(self).__name__)
        labels = global_labels.long()
        if labels.numel() and int(labels.max()) >= self.num_classes:
            raise ModelError(
                f"DAN has {self.num_classes} affinity centres but got class id {int(labels.max())}; "
                f"build it with num_classes >= {int(labels.max()) + 1}"
            )
        return {
            "affinity": self.affinity_weight * self.affinity(found["pooled"], labels),
            "partition": self.partition_weight * self.partition(found["heads"]),
        }


class DANClassifier(nn.Module):
    """The paper's full DAN classifier: :class:`DAN` + AFN's Linear 512->C + BatchNorm1d(C); ``[B, 3, H, W] -> [B, C]``.

    Not an embedder: it exists to hold the paper's network (and its parameter count) whole.
    """

    def __init__(self, num_classes: int = 7, num_heads: int = 4) -> None:
        super().__init__()
        self.embedder = DAN(num_heads=num_heads)
        self.fc = nn.Linear(self.embedder.out_channels, num_classes)
        self.bn = nn.BatchNorm1d(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.fc(self.embedder(x).flatten(1)))

    def paper_parameters(self) -> int:
        """The parameters the paper counts: everything but the affinity centres (a loss parameter)."""
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("embedder.affinity."))


EMBEDDERS = {"dan": DAN}
