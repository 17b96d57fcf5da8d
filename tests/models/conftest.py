"""Shared helpers of the model tests: tiny hand-made embedders and episodes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fsfer.episodes import Episode


class IdentityEmbedder(nn.Module):
    """A parameter-free embedder whose features are the images themselves: ``[B, C, h, w] -> [B, C, h, w]``."""

    def __init__(self, out_channels: int = 2) -> None:
        super().__init__()
        self.in_channels = out_channels
        self.out_channels = out_channels
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x


class AuxEmbedder(nn.Module):
    """A tiny trainable embedder with an auxiliary loss: the mean global label times the mean feature."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.out_channels = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))

    def aux_losses(self, features: torch.Tensor, global_labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"aux_test": global_labels.float().mean() * features.mean()}


def vector_images(rows: list[list[float]]) -> torch.Tensor:
    """``[[a, b], ...] -> [N, 2, 1, 1]``: 1x1 "images" with 2 channels, whose identity features are the rows."""
    return torch.tensor(rows, dtype=torch.float32).view(len(rows), -1, 1, 1)


def random_episode(
    n_way: int = 3,
    k_shot: int = 2,
    n_query: int = 2,
    size: int = 16,
    seed: int = 0,
    classes: list[int] | None = None,
    signal: float = 1.0,
) -> Episode:
    """A class-major episode of random 3 x size x size images; each class has its own mean image times ``signal``.

    ``signal=0`` gives pure noise: queries that share nothing with their class's support.
    """
    g = torch.Generator().manual_seed(seed)
    means = signal * torch.randn(n_way, 3, size, size, generator=g)
    support_labels = torch.arange(n_way).repeat_interleave(k_shot)
    query_labels = torch.arange(n_way).repeat_interleave(n_query)
    support = means[support_labels] + torch.randn(n_way * k_shot, 3, size, size, generator=g)
    query = means[query_labels] + torch.randn(n_way * n_query, 3, size, size, generator=g)
    cls = torch.tensor(classes if classes is not None else [4, 1, 6, 0, 2, 3, 5][:n_way])
    return Episode(support, support_labels, query, query_labels, cls)


@pytest.fixture
def identity_embedder() -> type[IdentityEmbedder]:
    return IdentityEmbedder


@pytest.fixture
def aux_embedder() -> type[AuxEmbedder]:
    return AuxEmbedder


@pytest.fixture
def make_vectors():
    return vector_images


@pytest.fixture
def make_episode():
    return random_episode
