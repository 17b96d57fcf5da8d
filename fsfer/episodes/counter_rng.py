"""Counter-based random numbers: number ``n`` of episode ``e`` is a pure function of ``(seed, e, n)``.

Each episode gets a 64-bit key, the splitmix64 hash of ``(seed, e)``; its numbers are
the SplitMix64 sequence from that key (Steele, Lea and Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014): output ``n`` is ``mix(key + n * gamma)``.
Because any output is computed without the ones before it, the draws of a whole block
of episodes are a few vectorised numpy operations, and episode ``e`` is the same
whichever block, order, worker or machine computes it (plain 64-bit integer arithmetic).
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
_SEED_MUL, _INDEX_MUL, _OFFSET = GAMMA, 0xD1B54A32D192ED03, 0x632BE59BD9B4E019
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

#: counters are ``stream << STREAM_SHIFT | position``: streams never overlap below 2**40 positions
STREAM_SHIFT = 40


def episode_seed(seed: int, index: int) -> int:
    """A 64-bit key for episode ``index`` under ``seed``: splitmix64 of both (Python integers)."""
    x = (int(seed) * _SEED_MUL + int(index) * _INDEX_MUL + _OFFSET) & _MASK64
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK64
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK64
    return x ^ (x >> 31)


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (wrapping arithmetic), in place."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(_MIX1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_MIX2)
    x ^= x >> np.uint64(31)
    return x


def episode_keys(seed: int, episodes: np.ndarray) -> np.ndarray:
    """``episode_seed(seed, e)`` for every ``e`` of ``episodes`` ``[B]`` -> uint64 ``[B]``."""
    e = np.asarray(episodes, dtype=np.int64).astype(np.uint64)
    x = e * np.uint64(_INDEX_MUL)
    x += np.uint64((int(seed) * _SEED_MUL + _OFFSET) & _MASK64)
    return _mix(x)


def random_bits(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """64 random bits: output ``counters`` of the stream of ``keys``.

    ``keys`` and ``counters`` are uint64 arrays that broadcast together (for example
    ``[B, 1]`` and ``[T]`` -> ``[B, T]``); the result is uint64 of the broadcast shape.
    """
    x = np.asarray(keys, dtype=np.uint64) + np.asarray(counters, dtype=np.uint64) * np.uint64(GAMMA)
    return _mix(x)


def uniforms(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Uniform float64 in [0, 1) from :func:`random_bits`: the top 53 bits become the mantissa, exactly."""
    return (random_bits(keys, counters) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def counters(stream: int | np.ndarray, count: int) -> np.ndarray:
    """Counters ``0..count-1`` of ``stream`` (a scalar, or ``[S]`` streams -> ``[S, count]``), uint64."""
    base = np.asarray(stream, dtype=np.uint64) << np.uint64(STREAM_SHIFT)
    return base[..., None] + np.arange(count, dtype=np.uint64)
