"""Subject-disjoint episodes: on by default when subjects are known, exact feasibility, errors that name the class."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fsfer.episodes import EpisodeSampler
from fsfer.episodes.subjects import min_images_for_shots, shares_subjects, subject_codes
from fsfer.errors import EpisodeError
from fsfer.store import from_tensors


def _store(per_class: tuple[int, ...], subjects_of=None):
    """Classes c0.. of ``per_class`` images; ``subjects_of(class, k)`` names image k's subject (None: no subjects)."""
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(per_class)])
    images = torch.zeros(labels.numel(), 3, 2, 2, dtype=torch.uint8)
    store = from_tensors(images, labels, [f"c{i}" for i in range(len(per_class))])
    if subjects_of is not None:
        store.records["subject"] = [subjects_of(c, k) for c, n in enumerate(per_class) for k in range(n)]
    return store


def _leaks(store, idx) -> bool:
    subjects = store.records["subject"].to_numpy()
    for way in range(int(idx.classes.numel())):
        s = set(subjects[idx.support[idx.support_labels == way].numpy()])
        q = set(subjects[idx.query[idx.query_labels == way].numpy()])
        if s & q:
            return True
    return False


@pytest.mark.parametrize(("counts", "k", "expected"), [
    ([6, 6, 6, 6], 5, 6),  # five shots fit in one subject of six
    ([3, 3, 3], 1, 3),
    ([1, 1, 1, 10], 2, 2),  # two subjects of one image each
    ([2, 5], 3, 5),  # the subject of five beats both together (seven)
    ([4, 4, 1], 5, 5),  # four + one
    ([1], 3, 1),  # no set of subjects holds three shots: every image
])
def test_min_images_for_shots_is_the_exact_best_case(counts, k, expected) -> None:
    assert min_images_for_shots(counts, k) == expected


def test_on_by_default_when_every_image_has_a_subject_and_off_without() -> None:
    # 6 subjects x 5 images per class; without the rule about 1/6 of the queries would share a support subject
    store = _store((30, 30, 30), lambda c, k: f"s{k % 6}")
    sampler = EpisodeSampler(store, None, 3, 2, 5, seed=4, episodes=200)
    assert sampler.disjoint
    assert not any(_leaks(store, sampler.index(i)) for i in range(200))
    leaky = EpisodeSampler(store, None, 3, 2, 5, seed=4, episodes=200, disjoint_subjects=False)
    assert not leaky.disjoint and sum(_leaks(store, leaky.index(i)) for i in range(200)) > 150
    # the disjoint episode keeps the plain draw's ways and support: only the query changes
    a, b = sampler.index(3), leaky.index(3)
    assert torch.equal(a.classes, b.classes) and torch.equal(a.support, b.support)
    no_subjects = _store((30, 30, 30))
    assert not EpisodeSampler(no_subjects, None, 3, 2, 5).disjoint
    partly = _store((30, 30, 30), lambda c, k: None if k == 0 else "s")
    assert not EpisodeSampler(partly, None, 3, 2, 5).disjoint


def test_only_the_drawn_rows_need_subjects() -> None:
    store = _store((10, 10, 10, 10), lambda c, k: f"s{k}" if c < 3 else None)
    rows = np.arange(30)  # c3 (no subjects) is outside the split
    assert EpisodeSampler(store, ["c0", "c1", "c2"], 3, 1, 3, indices=rows).disjoint
    assert subject_codes(store, rows) is not None and subject_codes(store) is None


def test_asking_for_disjoint_episodes_without_subjects_is_an_error() -> None:
    with pytest.raises(EpisodeError, match=r"disjoint_subjects needs a subject for every image.*--no-disjoint-subjects"):
        EpisodeSampler(_store((10, 10)), None, 2, 1, 3, disjoint_subjects=True)


def test_a_class_with_too_few_subjects_is_named_with_its_count_and_the_fixes() -> None:
    # c1: 2 subjects of 4 images; one shot removes a whole subject, leaving 4 < 5 queries
    store = _store((40, 8), lambda c, k: f"s{k % 10}" if c == 0 else f"t{k % 2}")
    with pytest.raises(EpisodeError) as err:
        EpisodeSampler(store, None, 2, 1, 5)
    text = str(err.value)
    assert "class 'c1' has 2 subject(s) (8 images)" in text and "leave at most 4 image(s)" in text
    assert "allow_small" in text and "fewer shots" in text and "--no-disjoint-subjects" in text
    # allow_small: the class gives the 4 it has, never from the support's subject
    sampler = EpisodeSampler(store, None, 2, 1, 5, allow_small=True, episodes=30)
    for i in range(30):
        idx = sampler.index(i)
        small = int((idx.classes == 1).nonzero())
        assert int((idx.query_labels == small).sum()) == 4 and not _leaks(store, idx)
    # one subject: no disjoint query can exist, even with allow_small
    one = _store((40, 8), lambda c, k: f"s{k % 10}" if c == 0 else "alone")
    with pytest.raises(EpisodeError, match=r"class 'c1' has 1 subject\(s\)"):
        EpisodeSampler(one, None, 2, 1, 1, allow_small=True)
    assert not EpisodeSampler(one, None, 2, 1, 1, disjoint_subjects=False).disjoint


def test_a_way_whose_first_order_falls_short_is_redrawn_reproducibly() -> None:
    # c0: one big subject (20 images) and 10 subjects of one image. Shots on the big subject leave 10
    # candidates; shots on two small ones leave 28. Q = 12 needs the big subject in the support.
    store = _store((30, 30), lambda c, k: ("big" if k < 20 else f"s{k}") if c == 0 else f"u{k % 10}")
    a = EpisodeSampler(store, None, 2, 2, 12, seed=9, episodes=40)
    b = EpisodeSampler(store, None, 2, 2, 12, seed=9, episodes=40)
    for i in range(40):
        x, y = a.index(i), b.index(i)
        assert torch.equal(x.support, y.support) and torch.equal(x.query, y.query)
        assert not _leaks(store, x) and int((x.query_labels == 0).sum()) == 12


def test_shares_subjects_reads_a_saved_set() -> None:
    store = _store((30, 30, 30), lambda c, k: f"s{k % 6}")
    disjoint = [EpisodeSampler(store, None, 3, 1, 4, seed=1).index(i) for i in range(20)]
    leaky = [EpisodeSampler(store, None, 3, 1, 4, seed=1, disjoint_subjects=False).index(i) for i in range(20)]
    assert shares_subjects(store, disjoint) is False and shares_subjects(store, leaky) is True
    assert shares_subjects(_store((30, 30, 30)), disjoint) is None


@pytest.mark.parametrize("pool", [40, 4000])  # small pools: whole order; large ones: a prefix first
def test_disjoint_queries_are_uniform_over_the_other_subjects(pool: int) -> None:
    store = _store((pool, pool), lambda c, k: f"s{k % 8}")
    sampler = EpisodeSampler(store, None, 2, 1, 3, seed=0, episodes=2000)
    seen = np.zeros(2 * pool)
    for i in range(2000):
        seen[sampler.index(i).query.numpy()] += 1
    # each image is a query 3/(pool - pool/8) of the time its class is drawn (every episode here)
    expected = 2000 * 3 / (pool - pool // 8)
    assert abs(seen.mean() - 2000 * 3 / pool) < 1e-9  # 3 queries per class per episode
    assert np.allclose(seen[:pool].reshape(-1).mean(), expected * 7 / 8, rtol=0.01)
    assert seen.max() < expected * (1.6 if pool == 40 else 8)
