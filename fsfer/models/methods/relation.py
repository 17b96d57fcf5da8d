"""RelationNet: Sung et al., "Learning to Compare: Relation Network for Few-Shot Learning", CVPR 2018.

Each class's support maps are summed into one class map; the relation module scores
every (class map, query map) pair in ``[0, 1]``; the loss is the MSE of the scores
against the one-hot match labels.

The sum makes a K-shot class map K times larger than a 1-shot one, so a module trained
with one shot count sees maps of another scale when tested with another (trained
1-shot, tested 5-shot: maps five times larger). ``pool = "mean"`` averages the shots
instead (CRN's depth average pooling, without CRN's distance loss).
"""

from __future__ import annotations

import torch
from torch import nn

from fsfer.errors import ModelError
from fsfer.models.losses import relation_mse_loss
from fsfer.models.methods.base import MetricMethod, class_sums, feature_shape
from fsfer.models.methods.relation_module import RelationModule


#: support aggregations of the relation methods: shots summed (RelationNet) or averaged (CRN's DAP)
POOLS = ("sum", "mean")


class ClassSumPooling(nn.Module):
    """RelationNet's class map: the element-wise SUM of a class's support maps.

    ``[n_support, C, h, w]``, labels ``[n_support]`` -> ``[n_way, C, h, w]``.
    """

    def forward(self, support_maps: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        return class_sums(support_maps, support_labels, n_way)


class RelationNetwork(MetricMethod):
    """RelationNet; logits are the relation scores ``[n_query, n_way]`` in ``[0, 1]``.

    ``image_size`` (the side, or ``(H, W)``, of the episodes' images) fixes the map size the
    relation module is built for; ``hidden`` and ``fc_hidden`` are its widths (64 and 8).
    ``pool``: ``"sum"`` (the paper's: a K-shot class map is K times a 1-shot one, so the
    module sees another scale when the test shots differ from the training shots) or
    ``"mean"`` (the shots averaged). Losses: ``relation`` (MSE against one-hot match labels).
    """

    #: the logits are relation scores in [0, 1] already (``fsfer predict`` reports them as they are)
    logits_are_scores = True
    #: the paper's support aggregation
    default_pool = "sum"

    def __init__(
        self, embedder: nn.Module, image_size: int | tuple[int, int] = 84, hidden: int = 64, fc_hidden: int = 8,
        pool: str | None = None,
    ) -> None:
        super().__init__(embedder)
        self.pool = pool or self.default_pool
        if self.pool not in POOLS:
            raise ModelError(f"pool must be one of {', '.join(POOLS)}; got {self.pool!r}")
        channels, height, width = feature_shape(embedder, image_size)
        self.pooling = self.make_pooling()
        self.relation = RelationModule(channels, (height, width), hidden=hidden, fc_hidden=fc_hidden)

    def make_pooling(self) -> nn.Module:
        """The support aggregation: :class:`ClassSumPooling` (``pool="sum"``) or CRN's
        :class:`~fsfer.models.methods.crn.DepthAveragePooling` (``pool="mean"``)."""
        if self.pool == "mean":
            from fsfer.models.methods.crn import DepthAveragePooling  # crn builds on this module

            return DepthAveragePooling()
        return ClassSumPooling()

    def summarise(self, support_features: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        """Class maps ``[n_way, C, h, w]``."""
        return self.pooling(support_features, support_labels, n_way)

    def score(self, summary: torch.Tensor, query_features: torch.Tensor) -> torch.Tensor:
        return self.relation(summary, query_features)

    def prepare_queries(self, query_features: torch.Tensor) -> torch.Tensor:
        """The relation module's first-convolution share of each query map (per image, episode-free)."""
        return self.relation.query_terms(query_features)

    def score_prepared(self, summary: torch.Tensor, prepared_queries: torch.Tensor) -> torch.Tensor:
        return self.relation.combine(self.relation.class_terms(summary), prepared_queries)

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: torch.Tensor, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"relation": relation_mse_loss(logits, query_labels)}


METHODS = {"relation": RelationNetwork}
