"""Evaluation: the 95% CI formula, per-class accuracy and confusion on a hand-made case, cached == uncached."""

from __future__ import annotations

import math

import pytest
import torch

from fsfer.engine.evaluate import evaluate, summarise_predictions
from fsfer.episodes import EpisodeSampler
from fsfer.models import build_embedder, build_method
from fsfer.store import from_tensors
from fsfer.transforms import Normalise


def test_ci_per_class_and_confusion_by_hand() -> None:
    accs = [1.0, 0.5, 0.5, 0.0]
    true = torch.tensor([0, 0, 1, 1, 2, 2])
    pred = torch.tensor([0, 1, 1, 1, 0, 2])
    r = summarise_predictions(accs, true, pred, ["a", "b", "c"], (3, 1, 2))
    assert r.accuracy == pytest.approx(0.5)
    std = math.sqrt(((0.5) ** 2 + 0 + 0 + (0.5) ** 2) / 4)  # population std, as LibFewShot
    assert r.ci95 == pytest.approx(1.96 * std / math.sqrt(4))
    assert r.per_class == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert r.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert (r.n_way, r.k_shot, r.q_query, r.episodes) == (3, 1, 2, 4)


@pytest.mark.parametrize("method", ["protonet", "crn", "cosine", "matching"])
def test_cached_embeddings_give_the_same_result_as_per_episode(method: str) -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (60, 3, 32, 32), dtype=torch.uint8)
    store = from_tensors(images, torch.arange(6).repeat_interleave(10), [f"c{i}" for i in range(6)])
    sampler = EpisodeSampler(store, None, 3, 2, 3, seed=0, episodes=8)
    episodes = [sampler.index(i) for i in range(8)]
    model = build_method(method, build_embedder("conv4"), image_size=32, n_way=3)
    cached = evaluate(model, store, episodes, transform=Normalise(), cached=True)
    plain = evaluate(model, store, episodes, transform=Normalise(), cached=False)
    assert cached.episode_accuracies == pytest.approx(plain.episode_accuracies)
    assert cached.confusion == plain.confusion
    assert model.training  # the caller's mode is restored
