"""Cosine prototypes with a learned scale.

Baseline++ (Chen, Liu, Kira, Wang, Huang, "A Closer Look at Few-shot Classification",
ICLR 2019): logits are a scale times the cosine similarity between a query embedding and
a class weight, here the normalised mean of the class's normalised support embeddings.
SimpleShot (Wang, Chao, Weinberger, van der Maaten, 2019) centres the features (subtracts
their mean; here the support mean of the task) before L2 normalisation: the
``test_centring`` option applies it in eval mode (``adapt``/``predict`` and ``forward``
after ``.eval()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.models.methods.base import MetricMethod, class_means
from fsfer.models.methods.protonet import embed_vectors


@dataclass
class CosineSummary:
    """Unit prototypes ``[n_way, D]`` and the centre ``[D]`` subtracted from features (``None``: none)."""

    prototypes: torch.Tensor
    centre: torch.Tensor | None


class CosinePrototypes(nn.Module):
    """``[n_support, D]``, labels -> unit-norm class prototypes ``[n_way, D]`` (of unit-norm features)."""

    def forward(self, support_vectors: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        return F.normalize(class_means(F.normalize(support_vectors, dim=1), support_labels, n_way), dim=1)


class CosineClassifier(MetricMethod):
    """Logits ``[n_query, n_way]`` = ``scale * cos(f(q), w_k)``; losses: ``cross_entropy``.

    ``scale`` is learned (initial value given; ``learn_scale=False`` fixes it); ``pooled``
    as in ProtoNet; ``test_centring`` turns on SimpleShot's centring in eval mode.
    """

    def __init__(
        self,
        embedder: nn.Module,
        scale: float = 10.0,
        learn_scale: bool = True,
        pooled: bool = False,
        test_centring: bool = False,
    ) -> None:
        super().__init__(embedder)
        self.scale = nn.Parameter(torch.tensor(float(scale)), requires_grad=learn_scale)
        self.pooled = pooled
        self.test_centring = test_centring
        self.prototypes = CosinePrototypes()

    def summarise(self, support_features: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> CosineSummary:
        vectors = embed_vectors(support_features, self.pooled)
        centre = vectors.mean(0) if (self.test_centring and not self.training) else None
        if centre is not None:
            vectors = vectors - centre
        return CosineSummary(self.prototypes(vectors, support_labels, n_way), centre)

    def score(self, summary: CosineSummary, query_features: torch.Tensor) -> torch.Tensor:
        vectors = embed_vectors(query_features, self.pooled)
        if summary.centre is not None:
            vectors = vectors - summary.centre
        return self.scale * F.normalize(vectors, dim=1) @ summary.prototypes.T

    def compose(self, summary: CosineSummary, weights: torch.Tensor) -> CosineSummary:
        """Mixed unit prototypes, normalised again (the centre stays)."""
        mixed = weights.to(summary.prototypes.dtype) @ summary.prototypes
        return CosineSummary(F.normalize(mixed, dim=1), summary.centre)

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: CosineSummary, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"cross_entropy": F.cross_entropy(logits, query_labels)}


METHODS = {"cosine": CosineClassifier}
