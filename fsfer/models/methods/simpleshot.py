"""SimpleShot: Wang, Chao, Weinberger, van der Maaten, "SimpleShot: Revisiting Nearest-Neighbor
Classification for Few-Shot Learning", arXiv 1911.04623, 2019.

A nearest-centroid classifier on "CL2N" features: the global-average-pooled embedding
``x`` is centred by the mean feature ``m`` of the base classes, then L2-normalised,
``z = (x - m) / ||x - m||``; a class's centroid is the mean of its support ``z``; a
query goes to the nearest centroid in Euclidean distance. The base mean is computed by
``fsfer pretrain`` over the base images and kept in its checkpoint
(:meth:`SimpleShot.set_base_mean`); without one, the support mean of the task stands
in for it (transductive over the support only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.models.methods.base import MetricMethod, class_means
from fsfer.models.methods.protonet import squared_euclidean


class SimpleShot(MetricMethod):
    """Logits ``[n_query, n_way]`` = ``-scale * ||z(q) - mean_k z(s)||^2`` on CL2N features; losses: ``cross_entropy``.

    ``scale`` (learned from its initial value) only sharpens the softmax for episodic
    training and for ``predict``'s scores; the nearest centroid does not depend on it.
    """

    def __init__(self, embedder: nn.Module, scale: float = 10.0) -> None:
        super().__init__(embedder)
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        self.base_mean: torch.Tensor | None = None

    def set_base_mean(self, mean: torch.Tensor | None) -> None:
        """Centre with ``mean`` ``[C]`` (the base classes' mean pooled feature); None: the support mean."""
        self.base_mean = None if mean is None else mean.detach().float()

    def cl2n(self, maps: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """Maps ``[B, C, h, w]`` -> centred, unit-norm pooled features ``[B, C]``."""
        return F.normalize(maps.mean(dim=(2, 3)) - centre.to(maps.device, maps.dtype), dim=1)

    def summarise(self, support_features: torch.Tensor, support_labels: torch.Tensor, n_way: int):
        centre = self.base_mean if self.base_mean is not None else support_features.mean(dim=(0, 2, 3)).detach()
        return class_means(self.cl2n(support_features, centre), support_labels, n_way), centre

    def score(self, summary, query_features: torch.Tensor) -> torch.Tensor:
        centroids, centre = summary
        return -self.scale * squared_euclidean(self.cl2n(query_features, centre), centroids)

    def compose(self, summary, weights: torch.Tensor):
        """Mixed centroids (in the centred unit-feature space); the centre stays."""
        centroids, centre = summary
        return weights.to(centroids.dtype) @ centroids, centre

    def episode_losses(self, logits, query_labels, summary, query_features) -> dict[str, torch.Tensor]:
        return {"cross_entropy": F.cross_entropy(logits, query_labels)}


METHODS = {"simpleshot": SimpleShot}
