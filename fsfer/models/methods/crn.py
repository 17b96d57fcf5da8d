"""CRN: Zhu, Mao, Jia, Ocquaye, Tu, "Convolutional relation network for facial expression
recognition in the wild with few-shot learning", Expert Systems with Applications 189 (2022) 116046.

RelationNet with two changes: Depth Average Pooling (the K support maps of a class are
averaged, not summed) and a Jensen-Shannon distance loss between the DAP class maps and
the query maps, added with weight lambda: ``L = L_r + lambda L_dist``. The exact reading
of the review's garbled ``L_dist`` is in :func:`fsfer.models.losses.js_distance_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

from fsfer.models.losses import js_distance_loss, relation_mse_loss
from fsfer.models.methods.base import class_means
from fsfer.models.methods.relation import RelationNetwork


class DepthAveragePooling(nn.Module):
    """DAP: the element-wise MEAN of a class's support maps (what the shots have in common).

    ``[n_support, C, h, w]``, labels ``[n_support]`` -> ``[n_way, C, h, w]`` (support only).
    """

    def forward(self, support_maps: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        return class_means(support_maps, support_labels, n_way)


class ConvolutionalRelationNetwork(RelationNetwork):
    """CRN; logits are the relation scores ``[n_query, n_way]`` in ``[0, 1]``.

    Losses (summed by the training loop): ``relation`` = L_r, the MSE of the scores against
    the one-hot match labels, and ``js_distance`` = ``lambda_dist * L_dist`` with
    ``L_dist = mean_ij [y_ij - (1 - D_JS(P(DAP_i), P(Q_j)) / ln 2)]^2`` (see
    :func:`~fsfer.models.losses.js_distance_loss` for the reading and why; lambda is not
    published; 0.5 by default, CSRN uses 0.5-0.7). ``temperature`` divides the flattened
    maps before the softmax that makes them distributions. The L_r + lambda L_dist of each
    episode is the paper's per-task term; the 1/K average over tasks is the training loop's.
    """

    def __init__(
        self,
        embedder: nn.Module,
        image_size: int | tuple[int, int] = 84,
        lambda_dist: float = 0.5,
        temperature: float = 1.0,
        hidden: int = 64,
        fc_hidden: int = 8,
    ) -> None:
        super().__init__(embedder, image_size=image_size, hidden=hidden, fc_hidden=fc_hidden)
        self.lambda_dist = float(lambda_dist)
        self.temperature = float(temperature)

    def make_pooling(self) -> nn.Module:
        return DepthAveragePooling()

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: torch.Tensor, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        distance = js_distance_loss(summary, query_features, query_labels, self.temperature)
        return {"relation": relation_mse_loss(logits, query_labels), "js_distance": self.lambda_dist * distance}


METHODS = {"crn": ConvolutionalRelationNetwork}
