"""Counter-based random numbers: vectorised == scalar, exact uniforms, streams apart, draws without replacement."""

from __future__ import annotations

import numpy as np
import pytest

from fsfer.episodes.counter_rng import counters, episode_keys, episode_seed, random_bits, uniforms
from fsfer.episodes.sampler import EpisodeSampler, _smallest


def test_vectorised_keys_equal_the_scalar_hash() -> None:
    episodes = np.array([0, 1, 17, 2**40 + 3])
    assert [int(k) for k in episode_keys(3, episodes)] == [episode_seed(3, int(e)) for e in episodes]
    assert int(episode_keys(0, np.array([0]))[0]) == 7905728728188956330


def test_output_n_is_splitmix64_of_key_plus_n_gamma() -> None:
    key = episode_seed(1, 2)
    mask = (1 << 64) - 1
    x = (key + 5 * 0x9E3779B97F4A7C15) & mask  # the SplitMix64 state after 5 steps
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    assert int(random_bits(np.array([key], dtype=np.uint64), np.array([5]))[0]) == x ^ (x >> 31)


def test_uniforms_lie_in_unit_interval_with_uniform_moments() -> None:
    u = uniforms(episode_keys(0, np.arange(4))[:, None], counters(0, 50_000))
    assert u.shape == (4, 50_000) and u.min() >= 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.003) and u.var() == pytest.approx(1 / 12, abs=0.002)


def test_streams_do_not_overlap() -> None:
    keys = episode_keys(0, np.arange(3))[:, None]
    a, b = random_bits(keys, counters(0, 1000)), random_bits(keys, counters(1, 1000))
    assert not np.intersect1d(a, b).size and np.unique(a).size == a.size


def test_smallest_orders_by_key_and_skips_padding() -> None:
    bits = np.array([[900, 100, 500, 300], [40, 30, 20, 10]], dtype=np.uint64) << np.uint64(8)
    assert _smallest(bits, 2).tolist() == [[1, 3], [3, 2]]
    assert _smallest(bits, 3, sizes=np.array([4, 2])).tolist()[1][:2] == [1, 0]


@pytest.mark.parametrize("size", [8, 12, 40, 10_000])
def test_draws_are_distinct_in_range_and_uniform(size: int) -> None:
    m, rows = 3, 20_000
    keys = episode_keys(9, np.arange(rows))
    got = EpisodeSampler._by_draws(keys, np.zeros(rows, dtype=np.int64), np.full(rows, size), m)
    assert got.shape == (rows, m) and got.min() >= 0 and got.max() < size
    assert all(len(set(r)) == m for r in got[:2000].tolist())
    if size <= 40:  # each position is uniform over the pool, also the second one (no bias from the dedupe)
        for column in range(2):
            freq = np.bincount(got[:, column], minlength=size) / rows
            assert np.abs(freq - 1 / size).max() < 5 * np.sqrt(1 / size / rows)


def test_draws_fall_back_to_keys_when_too_few_distinct_positions_were_seen() -> None:
    # a pool of exactly m images: 2m + 16 draws rarely see all of them, so most rows fall back
    m, rows = 30, 50
    keys = episode_keys(1, np.arange(rows))
    slots, sizes = np.zeros(rows, dtype=np.int64), np.full(rows, m)
    got = EpisodeSampler._by_draws(keys, slots, sizes, m)
    assert all(sorted(r) == list(range(m)) for r in got.tolist())
    fell_back = (got == EpisodeSampler._by_keys(keys, slots, sizes, m)).all(axis=1)
    assert rows // 2 <= fell_back.sum() < rows
