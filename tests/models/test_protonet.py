"""ProtoNet: negative squared Euclidean distances to class means, cross-entropy; by hand."""

from __future__ import annotations

import math

import torch

from fsfer.episodes import Episode
from fsfer.models import build_method


def test_logits_and_loss_on_a_hand_made_episode(identity_embedder, make_vectors):
    # prototypes c0 = mean((0,0),(2,0)) = (1,0), c1 = mean((0,2),(0,4)) = (0,3)
    episode = Episode(
        make_vectors([[0, 0], [2, 0], [0, 2], [0, 4]]),
        torch.tensor([0, 0, 1, 1]),
        make_vectors([[1, 1], [0, 2]]),
        torch.tensor([0, 1]),
        torch.tensor([2, 4]),
    )
    logits, losses = build_method("protonet", identity_embedder(2))(episode)
    # (1,1): d0 = 0 + 1 = 1, d1 = 1 + 4 = 5; (0,2): d0 = 1 + 4 = 5, d1 = 0 + 1 = 1
    assert torch.allclose(logits, torch.tensor([[-1.0, -5.0], [-5.0, -1.0]]))
    assert set(losses) == {"cross_entropy"}
    assert math.isclose(losses["cross_entropy"].item(), math.log(1 + math.exp(-4)), rel_tol=1e-5)


def test_pooled_option_averages_the_map_first(identity_embedder):
    # 1 channel, 1x2 maps: pooled features are the means of the two cells
    images = torch.tensor([[0.0, 2.0], [4.0, 4.0], [1.0, 1.0]]).view(3, 1, 1, 2)
    episode = Episode(images[:2], torch.tensor([0, 1]), images[2:], torch.tensor([0]), torch.tensor([0, 1]))
    pooled, _ = build_method("protonet", identity_embedder(1), pooled=True)(episode)
    flat, _ = build_method("protonet", identity_embedder(1))(episode)
    assert torch.allclose(pooled, torch.tensor([[-0.0, -9.0]]))  # (1 - 1)^2, (1 - 4)^2
    assert torch.allclose(flat, torch.tensor([[-2.0, -18.0]]))  # 1 + 1, 9 + 9
