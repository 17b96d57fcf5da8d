"""CRN: Depth Average Pooling, the losses equal to their formulas on a hand-made episode."""

from __future__ import annotations

import math

import pytest
import torch

from fsfer.episodes import Episode
from fsfer.models import build_method
from fsfer.models.losses import js_distance_loss
from fsfer.models.methods.crn import ConvolutionalRelationNetwork, DepthAveragePooling


def jsd(p: list[float], q: list[float]) -> float:
    m = [(a + b) / 2 for a, b in zip(p, q)]
    return sum(0.5 * a * math.log(a / c) + 0.5 * b * math.log(b / c) for a, b, c in zip(p, q, m))


def test_depth_average_pooling_averages_each_class():
    maps = torch.arange(5 * 2 * 1 * 1, dtype=torch.float32).view(5, 2, 1, 1)
    labels = torch.tensor([1, 0, 1, 0, 1])  # any order; unbalanced
    pooled = DepthAveragePooling()(maps, labels, 2)
    assert torch.equal(pooled[0].flatten(), (maps[1] + maps[3]).flatten() / 2)
    assert torch.allclose(pooled[1].flatten(), (maps[0] + maps[2] + maps[4]).flatten() / 3)


@pytest.mark.parametrize("lambda_dist", [0.5, 2.0])
def test_losses_on_a_hand_made_episode(identity_embedder, make_vectors, lambda_dist):
    torch.manual_seed(0)
    ln3 = math.log(3.0)
    # identity features: DAP class maps are (0, 0) and (ln 3, 0)
    episode = Episode(
        support_images=make_vectors([[0, 1], [0, -1], [ln3 + 1, 0], [ln3 - 1, 0]]),
        support_labels=torch.tensor([0, 0, 1, 1]),
        query_images=make_vectors([[0, 0], [ln3, 0]]),
        query_labels=torch.tensor([0, 1]),
        classes=torch.tensor([3, 5]),
    )
    # reading (a): the encoder's maps (the default reads them after the relation module's first block)
    method = build_method("crn", identity_embedder(2), image_size=1, lambda_dist=lambda_dist, js_on="encoder")
    logits, losses = method(episode)
    assert set(losses) == {"relation", "js_distance"}
    # L_dist: matches at D = 0 (loss 0), mismatches at d = JSD((1/2,1/2), (3/4,1/4)) / ln 2 -> (1 - d)^2
    d = jsd([0.5, 0.5], [0.75, 0.25]) / math.log(2)
    assert math.isclose(losses["js_distance"].item(), lambda_dist * 2 * (1 - d) ** 2 / 4, rel_tol=1e-5)
    # L_r: the mean over query x class pairs of (r - y)^2
    y = [[1.0, 0.0], [0.0, 1.0]]
    expected_r = sum((logits[j, i].item() - y[j][i]) ** 2 for j in range(2) for i in range(2)) / 4
    assert math.isclose(losses["relation"].item(), expected_r, rel_tol=1e-5)
    assert ((logits >= 0) & (logits <= 1)).all()


def test_js_distance_uses_the_class_average_not_the_sum(identity_embedder, make_vectors):
    # shots (2, 0) and (0, 0): DAP map (1, 0); a sum would give (2, 0)
    episode = Episode(
        make_vectors([[2, 0], [0, 0], [0, 2], [0, 0]]),
        torch.tensor([0, 0, 1, 1]),
        make_vectors([[1, 0], [0, 1]]),
        torch.tensor([0, 1]),
        torch.tensor([0, 1]),
    )
    method = build_method("crn", identity_embedder(2), image_size=1, js_on="encoder")
    _, losses = method(episode)
    class_maps = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(2, 2, 1, 1)
    expected = 0.5 * js_distance_loss(class_maps, episode.query_images, episode.query_labels)
    assert torch.allclose(losses["js_distance"], expected)
    # queries equal to their class maps: D = 0 on the matches
    assert losses["js_distance"].item() > 0


def test_defaults_follow_the_paper():
    method = build_method("crn", "conv4", image_size=64)
    assert isinstance(method, ConvolutionalRelationNetwork)
    assert method.lambda_dist == 0.5
    # chosen by validation accuracy over 3 seeds and both SynthFER protocols (benchmarks/results/ablate_crn.md)
    assert (method.js_pairs, method.js_over, method.js_on, method.temperature) == ("class-query", "cells", "relation", 1.0)
    assert method.relation.fc1.in_features == 256 and not method.relation.padded
    assert isinstance(method.pooling, DepthAveragePooling)


def test_crn_runs_on_resnet12_maps(make_episode):
    torch.manual_seed(0)
    from fsfer.models import build_embedder

    method = build_method("crn", build_embedder("resnet12", channels=(4, 8, 8, 16)), image_size=32)
    assert method.relation.block1[0].in_channels == 2 * 16 and method.relation.padded
    logits, losses = method(make_episode(size=32))
    assert logits.shape == (6, 3) and torch.isfinite(sum(losses.values()))
