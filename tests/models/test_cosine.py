"""Cosine prototypes with a learned scale; SimpleShot centring at test time."""

from __future__ import annotations

import math

import torch

from fsfer.episodes import Episode
from fsfer.models import build_method


def test_logits_and_loss_on_a_hand_made_episode(identity_embedder, make_vectors):
    # normalised support: class 0 -> (1,0), (1,0); class 1 -> (0,1), (0,1)
    episode = Episode(
        make_vectors([[3, 0], [1, 0], [0, 2], [0, 5]]),
        torch.tensor([0, 0, 1, 1]),
        make_vectors([[1, 1], [3, 4]]),
        torch.tensor([0, 1]),
        torch.tensor([0, 1]),
    )
    method = build_method("cosine", identity_embedder(2), scale=10.0)
    logits, losses = method(episode)
    r = 10 / math.sqrt(2)
    assert torch.allclose(logits, torch.tensor([[r, r], [6.0, 8.0]]), atol=1e-5)
    assert set(losses) == {"cross_entropy"}
    assert math.isclose(losses["cross_entropy"].item(), (math.log(2) + math.log(1 + math.exp(-2))) / 2, rel_tol=1e-5)
    losses["cross_entropy"].backward()
    assert method.scale.grad is not None and method.scale.grad != 0


def test_fixed_scale(identity_embedder):
    method = build_method("cosine", identity_embedder(2), scale=5.0, learn_scale=False)
    assert not method.scale.requires_grad and method.scale.item() == 5.0


def test_simpleshot_centring_in_eval_mode_only(identity_embedder, make_vectors):
    support = make_vectors([[2, 0], [0, 2]])
    labels = torch.tensor([0, 1])
    query = make_vectors([[3, 1]])
    episode = Episode(support, labels, query, torch.tensor([0]), torch.tensor([0, 1]))
    method = build_method("cosine", identity_embedder(2), scale=1.0, test_centring=True)
    # train mode: no centring; query (3,1)/sqrt(10) against (1,0), (0,1)
    logits, _ = method(episode)
    assert torch.allclose(logits, torch.tensor([[3.0, 1.0]]) / math.sqrt(10), atol=1e-6)
    # eval mode: centre (1,1) -> support (1,-1), (-1,1); query (2,0) -> cos = +-1/sqrt(2)
    method.eval()
    expected = torch.tensor([[1.0, -1.0]]) / math.sqrt(2)
    logits, _ = method(episode)
    assert torch.allclose(logits, expected, atol=1e-6)
    method.adapt(support, labels)
    assert torch.allclose(method.predict(query), expected, atol=1e-6)
