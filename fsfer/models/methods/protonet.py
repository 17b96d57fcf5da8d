"""Prototypical Networks: Snell, Swersky, Zemel, "Prototypical Networks for Few-shot Learning", NeurIPS 2017.

A class's prototype is the mean of its support embeddings; a query's logits are the
negative squared Euclidean distances to the prototypes; the loss is cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.models.methods.base import MetricMethod, class_means


def embed_vectors(maps: torch.Tensor, pooled: bool) -> torch.Tensor:
    """Feature maps ``[B, C, h, w]`` -> vectors: ``[B, C * h * w]`` (flattened) or ``[B, C]`` (global average pool)."""
    return maps.mean(dim=(2, 3)) if pooled else maps.flatten(1)


class Prototypes(nn.Module):
    """Class prototypes: ``[n_support, D]``, labels ``[n_support]`` -> means ``[n_way, D]``."""

    def forward(self, support_vectors: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        return class_means(support_vectors, support_labels, n_way)


def squared_euclidean(queries: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """``||q_j - c_i||^2``: ``[n_query, D]``, ``[n_way, D]`` -> ``[n_query, n_way]``."""
    return (queries.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(-1)


class PrototypicalNetwork(MetricMethod):
    """ProtoNet; logits ``[n_query, n_way]`` = ``-||f(q) - c_k||^2``.

    ``pooled=True`` global-average-pools the maps first (``D = C``), else they are
    flattened (``D = C * h * w``, as in the paper's Conv-4). Losses: ``cross_entropy``.
    """

    def __init__(self, embedder: nn.Module, pooled: bool = False) -> None:
        super().__init__(embedder)
        self.pooled = pooled
        self.prototypes = Prototypes()

    def summarise(self, support_features: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        return self.prototypes(embed_vectors(support_features, self.pooled), support_labels, n_way)

    def score(self, summary: torch.Tensor, query_features: torch.Tensor) -> torch.Tensor:
        return -squared_euclidean(embed_vectors(query_features, self.pooled), summary)

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: torch.Tensor, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"cross_entropy": F.cross_entropy(logits, query_labels)}


METHODS = {"protonet": PrototypicalNetwork}
