"""EpisodeSampler: exact structure, no overlap, determinism across workers, small classes, subjects."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from fsfer.episodes import Episode, EpisodeSampler, episode_generator
from fsfer.errors import EpisodeError
from fsfer.store import from_tensors


def _store(per_class=(20, 20, 20, 20, 20, 20), size: int = 4, subjects: int | None = None):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(per_class)])
    n = labels.numel()
    # every image is its own row number, written in the pixels, so gathered images can be checked
    images = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(n) % 256
    images[:, 1, 0, 0] = torch.arange(n) // 256
    store = from_tensors(images, labels, [f"c{i}" for i in range(len(per_class))])
    if subjects:
        store.records["subject"] = [f"s{i % subjects}" for i in range(n)]
    return store


def _rows(images: torch.Tensor) -> list[int]:
    return (images[:, 0, 0, 0].long() + 256 * images[:, 1, 0, 0].long()).tolist()


def test_exact_episode_structure() -> None:
    store = _store()
    sampler = EpisodeSampler(store, ["c0", "c1", "c2", "c3", "c4"], n_way=3, k_shot=2, q_query=4, seed=1, episodes=50)
    assert len(sampler) == 50
    for ep in sampler:
        assert isinstance(ep, Episode)
        assert ep.support_images.shape == (6, 3, 4, 4) and ep.query_images.shape == (12, 3, 4, 4)
        assert ep.support_labels.tolist() == [0, 0, 1, 1, 2, 2]  # class-major
        assert ep.query_labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
        assert len(set(ep.classes.tolist())) == 3 and set(ep.classes.tolist()) <= {0, 1, 2, 3, 4}  # never c5
        sup, qry = _rows(ep.support_images), _rows(ep.query_images)
        assert not set(sup) & set(qry) and len(set(sup + qry)) == 18
        # every image really belongs to the class its label says
        assert torch.equal(store.labels[sup], ep.classes[ep.support_labels])
        assert torch.equal(store.labels[qry], ep.classes[ep.query_labels])


def test_same_seed_same_episodes_any_order_other_seed_differs() -> None:
    store = _store()
    a = EpisodeSampler(store, None, 5, 1, 3, seed=7, episodes=20)
    b = EpisodeSampler(store, None, 5, 1, 3, seed=7, episodes=20)
    forward = [a.index(i).support.tolist() + a.index(i).query.tolist() for i in range(20)]
    backward = [b.index(i).support.tolist() + b.index(i).query.tolist() for i in reversed(range(20))][::-1]
    assert forward == backward
    c = EpisodeSampler(store, None, 5, 1, 3, seed=8, episodes=20)
    assert forward != [c.index(i).support.tolist() + c.index(i).query.tolist() for i in range(20)]


def test_generator_is_fixed_across_machines() -> None:
    # splitmix64 in 64-bit integers and torch's CPU Mersenne Twister are platform independent: pin the numbers
    from fsfer.episodes.sampler import episode_seed

    assert (episode_seed(0, 0), episode_seed(3, 17)) == (7905728728188956330, 15823068339731935639)
    g = episode_generator(0, 0)
    first = torch.randperm(10, generator=g).tolist()
    assert first == torch.randperm(10, generator=episode_generator(0, 0)).tolist()
    assert first != torch.randperm(10, generator=episode_generator(0, 1)).tolist()
    store = _store()
    # pools of 20 >= 4 * (1 + 1): drawn with replacement, first sightings kept
    idx = EpisodeSampler(store, None, 2, 1, 1, seed=0).index(0)
    assert (idx.support.tolist(), idx.query.tolist(), idx.classes.tolist()) == EXPECTED_DRAWN
    # pools of 20 < 4 * (2 + 4): one key per image, smallest first
    idx = EpisodeSampler(store, None, 3, 2, 4, seed=0).index(0)
    assert (idx.support.tolist(), idx.query.tolist(), idx.classes.tolist()) == EXPECTED_KEYED


# frozen from a first run of the counter-based sampler (fsfer 0.2): must never change
EXPECTED_DRAWN = ([72, 104], [64, 107], [3, 5])
EXPECTED_KEYED = ([62, 72, 114, 104, 0, 16], [65, 75, 79, 63, 108, 117, 118, 107, 1, 3, 2, 10], [3, 5, 0])


@pytest.mark.parametrize("block", [1, 7, 64])
def test_an_episode_does_not_depend_on_the_block_that_draws_it(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import fsfer.episodes.sampler as sampler_module

    store = _store(per_class=(20, 60, 200, 20, 90))  # both the keyed and the drawn pools
    reference = EpisodeSampler(store, None, 3, 2, 3, seed=5, episodes=70)
    want = [(reference.index(i).support.tolist(), reference.index(i).query.tolist()) for i in range(70)]
    monkeypatch.setattr(sampler_module, "BLOCK", block)
    other = EpisodeSampler(store, None, 3, 2, 3, seed=5, episodes=70)
    assert [(other.index(i).support.tolist(), other.index(i).query.tolist()) for i in reversed(range(70))][::-1] == want
    assert [(_rows(e.support_images), _rows(e.query_images)) for e in other] == want


def test_allow_small_and_unbalanced_keep_the_plain_draw_when_classes_are_big_enough() -> None:
    store = _store(per_class=(20, 60, 200, 20, 90))
    plain = EpisodeSampler(store, None, 3, 2, 4, seed=2, episodes=40)
    allowed = EpisodeSampler(store, None, 3, 2, 4, seed=2, episodes=40, allow_small=True)
    unbalanced = EpisodeSampler(store, None, 3, 2, 4, seed=2, episodes=40, unbalanced=True)
    for i in range(40):
        a, b, u = plain.index(i), allowed.index(i), unbalanced.index(i)
        assert torch.equal(a.support, b.support) and torch.equal(a.query, b.query)
        assert torch.equal(a.support, u.support) and torch.equal(a.classes, u.classes)
        for way in range(3):  # each way's unbalanced query is a prefix of its plain query
            q = u.query[u.query_labels == way]
            assert torch.equal(q, a.query[a.query_labels == way][: q.numel()])


@pytest.mark.parametrize(("k_shot", "q_query"), [(1, 1), (2, 4)])  # drawn pools, keyed pools
def test_ways_and_images_are_drawn_uniformly(k_shot: int, q_query: int) -> None:
    # 6 classes of 20: over 3,000 episodes every class is a way 1/2 of the time and every image
    # of a class is in its episode's support k_shot/20 of the times the class is drawn
    store = _store()
    sampler = EpisodeSampler(store, None, 3, k_shot, q_query, seed=11, episodes=3000)
    ways = torch.zeros(6)
    shots = torch.zeros(120)
    for i in range(3000):
        idx = sampler.index(i)
        ways[idx.classes] += 1
        shots[idx.support] += 1
    assert torch.allclose(ways / 3000, torch.full((6,), 0.5), atol=0.04)
    per_image = shots.view(6, 20) / ways[:, None]
    assert torch.allclose(per_image, torch.full((6, 20), k_shot / 20), atol=0.03)


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_workers_give_the_same_episodes(workers: int) -> None:
    store = _store()
    sampler = EpisodeSampler(store, None, 4, 2, 2, seed=3, episodes=8)
    loader = torch.utils.data.DataLoader(sampler, batch_size=None, num_workers=workers)
    got = [_rows(ep.support_images) + _rows(ep.query_images) for ep in loader]
    assert got == [_rows(sampler[i].support_images) + _rows(sampler[i].query_images) for i in range(8)]


def test_small_class_is_named_unless_allowed() -> None:
    store = _store(per_class=(20, 20, 5))
    with pytest.raises(EpisodeError, match=r"class 'c2' has 5 images, fewer than k_shot \+ q_query = 6"):
        EpisodeSampler(store, None, 3, 1, 5)
    sampler = EpisodeSampler(store, None, 3, 1, 5, allow_small=True, episodes=10)
    for ep in sampler:
        counts = torch.bincount(ep.query_labels, minlength=3)
        small_way = (ep.classes == 2).nonzero().item()
        assert counts[small_way] == 4 and counts.sum() == 14  # unbalanced query: what there is


def test_n_way_larger_than_split_and_unknown_class() -> None:
    store = _store(per_class=(10, 10, 10))
    with pytest.raises(EpisodeError, match="n_way = 4 is larger than the 3 classes"):
        EpisodeSampler(store, None, 4, 1, 1)
    with pytest.raises(EpisodeError, match="'nope' is not in the dataset"):
        EpisodeSampler(store, ["c0", "nope"], 2, 1, 1)


def test_indices_restrict_the_pool() -> None:
    store = _store(per_class=(10, 10, 10))
    allowed = [0, 1, 2, 3, 10, 11, 12, 13]
    sampler = EpisodeSampler(store, ["c0", "c1"], 2, 1, 3, indices=allowed, episodes=20)
    for i in range(20):
        idx = sampler.index(i)
        assert set(idx.support.tolist() + idx.query.tolist()) <= set(allowed)


def test_unbalanced_query_sizes_vary_within_bounds() -> None:
    sampler = EpisodeSampler(_store(), None, 3, 1, 6, unbalanced=True, episodes=30)
    sizes = {int(n) for i in range(30) for n in torch.bincount(sampler.index(i).query_labels)}
    assert sizes <= set(range(1, 7)) and len(sizes) > 2


def test_disjoint_subjects_between_support_and_query() -> None:
    store = _store(per_class=(30, 30, 30), subjects=6)
    subjects = pd.Series(store.records["subject"]).to_numpy()
    sampler = EpisodeSampler(store, None, 3, 2, 5, disjoint_subjects=True, episodes=20)
    for i in range(20):
        idx = sampler.index(i)
        for way in range(3):
            s = set(subjects[idx.support[idx.support_labels == way].numpy()])
            q = set(subjects[idx.query[idx.query_labels == way].numpy()])
            assert not s & q


def test_store_on_gpu_or_cpu_gathers_in_one_index() -> None:
    store = _store()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    sampler = EpisodeSampler(store.to(device), None, 2, 1, 1, episodes=2)
    ep = sampler[0]
    assert ep.support_images.device.type == device and ep.classes.device.type == device


def test_large_pools_are_drawn_without_touching_the_whole_pool() -> None:
    # two classes of 300,000 images (labels only): a block of episodes must not materialise
    # [episodes, ways, pool] arrays (that would be ~300 MB here)
    import tracemalloc
    from types import SimpleNamespace

    labels = torch.arange(2).repeat_interleave(300_000)
    records = pd.DataFrame({"subject": [None] * labels.numel()})
    store = SimpleNamespace(labels=labels, classes=["a", "b"], records=records, images=None)
    sampler = EpisodeSampler(store, None, 2, 5, 15, seed=0, episodes=1000)
    tracemalloc.start()
    try:
        idx = sampler.index(0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20
    rows = idx.support.tolist() + idx.query.tolist()
    assert len(set(rows)) == 40
    assert torch.equal(labels[idx.support], idx.classes[idx.support_labels])
    assert torch.equal(labels[idx.query], idx.classes[idx.query_labels])


def test_disjoint_prefix_never_exceeds_a_drawn_pool() -> None:
    """Regression: 1-shot 2-query episodes over pools of 12-15 images (drawn in O(K + Q), at least 4 (K + Q)
    images) asked the O(m) draw for a 13-image prefix, more than some pools hold, and crashed."""
    from fsfer.protocol_data import load_protocol_data
    from fsfer.protocols import load_protocol

    pdata = load_protocol_data(load_protocol("synth-basic-to-compound"), ["synth?subjects=30,per_subject=2,size=32"],
                               decode=False)
    sampler = EpisodeSampler(pdata.store, pdata.classes("val"), 5, 1, 2, 0, episodes=20, indices=pdata.rows["val"],
                             allow_small=True)
    assert sampler.disjoint
    for i in range(20):
        index = sampler.index(i)
        assert index.support.numel() == 5 and index.query.numel() >= 5
