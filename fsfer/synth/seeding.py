"""Explicit random streams: one ``numpy.random.Generator`` per purpose and key.

Every random draw of SynthFER comes from ``np.random.default_rng([seed, stream,
*keys])`` (PCG64 seeded through ``SeedSequence``), never from global state, so any
one image is rendered alone and the same keys give the same draws on any machine.
"""

from __future__ import annotations

import numpy as np

#: Stream tags: which part of the generator the draws feed.
IDENTITY, EXPRESSION, SCENE, SPLIT, SESSION = 1, 2, 3, 4, 5
#: Domain codes used in the keys.
DOMAINS: tuple[str, ...] = ("lab", "wild")


def stream(seed: int, tag: int, *keys: int) -> np.random.Generator:
    """The generator of stream ``tag`` for ``keys`` (non-negative integers) under ``seed``."""
    return np.random.default_rng([int(seed), int(tag), *(int(k) for k in keys)])
