"""Matching Networks: cosine attention summed per class, NLL; full-context embeddings."""

from __future__ import annotations

import math

import torch

from fsfer.episodes import Episode
from fsfer.models import build_method
from fsfer.models.methods.matching import MatchingNetwork, QueryAttentionLSTM, SupportContextEncoder


def test_logits_and_loss_on_a_hand_made_episode(identity_embedder, make_vectors):
    episode = Episode(
        make_vectors([[1, 0], [0, 1], [1, 1]]),
        torch.tensor([0, 1, 0]),
        make_vectors([[1, 0], [0, 1]]),
        torch.tensor([0, 1]),
        torch.tensor([0, 1]),
    )
    logits, losses = build_method("matching", identity_embedder(2))(episode)
    r = 1 / math.sqrt(2)
    expected = []
    for cos in ([1.0, 0.0, r], [0.0, 1.0, r]):  # cosines of each query with the 3 support vectors
        e = [math.exp(c) for c in cos]
        a = [x / sum(e) for x in e]
        expected.append([math.log(a[0] + a[2]), math.log(a[1])])
    assert torch.allclose(logits, torch.tensor(expected), atol=1e-6)
    assert set(losses) == {"nll"}
    assert math.isclose(losses["nll"].item(), -(expected[0][0] + expected[1][1]) / 2, rel_tol=1e-5)
    # log-probabilities: each row's probabilities sum to 1
    assert torch.allclose(logits.exp().sum(1), torch.ones(2))


def test_full_context_embeddings(identity_embedder, make_vectors):
    torch.manual_seed(0)
    method = build_method("matching", identity_embedder(2), fce=True, pooled=True, fce_steps=3)
    assert isinstance(method, MatchingNetwork)
    assert isinstance(method.support_encoder, SupportContextEncoder)
    assert isinstance(method.query_encoder, QueryAttentionLSTM)
    assert method.support_encoder.lstm.bidirectional and method.support_encoder.lstm.hidden_size == 2
    episode = Episode(
        make_vectors([[1, 0], [0, 1], [1, 1]]),
        torch.tensor([0, 1, 0]),
        make_vectors([[1, 0], [0, 1]]),
        torch.tensor([0, 1]),
        torch.tensor([0, 1]),
    )
    logits, losses = method(episode)
    plain, _ = build_method("matching", identity_embedder(2))(episode)
    assert logits.shape == (2, 2) and not torch.allclose(logits, plain)
    # g(x_i) = g'(x_i) + forward + backward LSTM states
    support = episode.support_images.flatten(1)
    out, _ = method.support_encoder.lstm(support.unsqueeze(1))
    assert torch.allclose(method.support_encoder(support), support + out[:, 0, :2] + out[:, 0, 2:])
    losses["nll"].backward()
    assert all(p.grad is not None for p in method.parameters())


def test_fce_width_follows_the_flattened_map():
    method = build_method("matching", "conv4-pool", fce=True, image_size=16)
    assert method.query_encoder.cell.hidden_size == 64 * 1 * 1
