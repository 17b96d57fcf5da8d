"""RelationNet: per-class sums and the MSE relation loss."""

from __future__ import annotations

import math

import torch

from fsfer.episodes import Episode
from fsfer.models import build_method
from fsfer.models.methods.relation import ClassSumPooling, RelationNetwork


def test_class_sum_pooling_sums_each_class():
    maps = torch.randn(5, 3, 2, 2)
    labels = torch.tensor([1, 0, 1, 0, 1])
    pooled = ClassSumPooling()(maps, labels, 2)
    assert torch.allclose(pooled[0], maps[1] + maps[3])
    assert torch.allclose(pooled[1], maps[0] + maps[2] + maps[4])


def test_relation_scores_the_summed_class_maps(identity_embedder, make_vectors):
    torch.manual_seed(0)
    episode = Episode(
        make_vectors([[1, 0], [3, 0], [0, 1], [0, 2]]),
        torch.tensor([0, 0, 1, 1]),
        make_vectors([[2, 0], [0, 1], [1, 1]]),
        torch.tensor([0, 1, 1]),
        torch.tensor([0, 1]),
    )
    method = build_method("relation", identity_embedder(2), image_size=1)
    assert isinstance(method, RelationNetwork)
    logits, losses = method(episode)
    assert set(losses) == {"relation"}
    sums = torch.tensor([[4.0, 0.0], [0.0, 3.0]]).view(2, 2, 1, 1)
    assert torch.allclose(logits, method.relation(sums, episode.query_images))
    y = [[1, 0], [0, 1], [0, 1]]
    expected = sum((logits[j, i].item() - y[j][i]) ** 2 for j in range(3) for i in range(2)) / 6
    assert math.isclose(losses["relation"].item(), expected, rel_tol=1e-5)
