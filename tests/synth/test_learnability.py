"""SynthFER is learnable, not trivially: nearest centroid on raw pixels, subject-disjoint.

A small version of ``benchmarks/synth_learnability.py`` with modest thresholds.
"""

from __future__ import annotations

import numpy as np
import pytest

from fsfer import emotions
from fsfer.synth.aus import CATEGORIES
from fsfer.synth.dataset import decode, read

SIZE = 48


@pytest.fixture(scope="module")
def lab() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels, labels and the train mask (train + val subjects) of a small lab set, all 22 categories."""
    df = read("lab", subjects=30, per_subject=2, size=SIZE)
    x = np.stack([decode(row, SIZE).reshape(-1) for row in df.to_dict("records")]).astype(np.float32) / 255
    return x, df["label"].to_numpy(), df["split"].isin(["train", "val"]).to_numpy()


def _nearest_centroid(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, classes: list[str]) -> np.ndarray:
    cents = np.stack([x_tr[y_tr == c].mean(0) for c in classes])
    d = (x_te**2).sum(1)[:, None] - 2 * x_te @ cents.T + (cents**2).sum(1)[None]
    return np.asarray(classes)[d.argmin(1)]


def test_category_means_differ(lab: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, y, _ = lab
    means = np.stack([x[y == c].mean(0) for c in emotions.BASIC])
    dist = np.sqrt(((means[:, None] - means[None]) ** 2).mean(-1))
    assert dist[~np.eye(7, dtype=bool)].min() > 0.008


def test_nearest_centroid_basic_above_chance_far_from_perfect(lab: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, y, train = lab
    basic = np.isin(y, emotions.BASIC)
    pred = _nearest_centroid(x[train & basic], y[train & basic], x[~train & basic], list(emotions.BASIC))
    acc = (pred == y[~train & basic]).mean()
    assert 0.25 < acc < 0.85, acc  # chance is 1/7 = 0.143


def test_categories_sharing_core_aus_are_the_most_confused(lab: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, y, train = lab
    classes = list(emotions.BASIC + emotions.COMPOUND)
    pred = _nearest_centroid(x[train], y[train], x[~train], classes)
    truth = y[~train]
    high, low = [], []
    for i, a in enumerate(classes):
        for b in classes[i + 1:]:
            rate = 0.5 * ((pred[truth == a] == b).mean() + (pred[truth == b] == a).mean())
            ca, cb = set(CATEGORIES[a].core), set(CATEGORIES[b].core)
            overlap = len(ca & cb) / len(ca | cb) if ca | cb else 0.0
            (high if overlap >= 0.5 else low).append(rate)
    assert np.mean(high) > 1.5 * np.mean(low), (np.mean(high), np.mean(low))
