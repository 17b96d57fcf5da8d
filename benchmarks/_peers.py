"""Helpers to run the peer libraries (easyfsl, learn2learn) fairly beside fsfer in one benchmark run."""

from __future__ import annotations

import time
from typing import Callable

import torch


def easyfsl_sampler_shim() -> None:
    """easyfsl 1.5.0's TaskSampler calls ``Sampler.__init__(data_source=None)``, which torch 2.14 rejects.

    Let ``torch.utils.data.Sampler.__init__`` accept and ignore that argument (benchmark use only).
    """
    original = torch.utils.data.Sampler.__init__
    if getattr(original, "_fsfer_shim", False):
        return

    def init(self, data_source=None) -> None:  # noqa: ARG001 - the argument easyfsl passes
        original(self)

    init._fsfer_shim = True  # type: ignore[attr-defined]
    torch.utils.data.Sampler.__init__ = init  # type: ignore[method-assign]


class TensorFewShotDataset(torch.utils.data.Dataset):
    """(image, label) pairs over in-memory tensors, with easyfsl's ``get_labels()``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels
        self._labels = labels.tolist()

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int):
        return self.images[i], self._labels[i]

    def get_labels(self) -> list[int]:
        return self._labels


def rate(
    fn: Callable[[int], object],
    n: int,
    warmup: int = 3,
    sync: Callable[[], None] | None = None,
    min_seconds: float = 0.0,
) -> float:
    """Calls per second of ``fn(i)`` over at least ``n`` calls and ``min_seconds``, after ``warmup`` calls.

    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before the clock starts and stops,
    so that queued GPU work is counted. ``min_seconds`` keeps calling past ``n`` (in
    chunks of ``n``) until that much time has passed, so that costs which come in rare
    large lumps, such as the garbage collector's full collections, are averaged in
    rather than caught or missed by chance.
    """
    for i in range(warmup):
        fn(i)
    if sync is not None:
        sync()
    start = time.perf_counter()
    calls = 0
    while True:
        for i in range(calls, calls + n):
            fn(i)
        calls += n
        if sync is not None:
            sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls / elapsed


def median_rates(
    fns: dict[str, Callable[[int], object]],
    n: int,
    repeats: int = 5,
    sync: Callable[[], None] | None = None,
    min_seconds: float = 0.0,
) -> dict[str, float]:
    """Median calls/s of each function over ``repeats`` rounds, the functions interleaved in each round.

    Interleaving spreads any load from other processes over every contender alike;
    ``min_seconds`` is passed to :func:`rate`.
    """
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name].append(rate(fn, n, sync=sync, min_seconds=min_seconds))
    return {name: sorted(values)[len(values) // 2] for name, values in runs.items()}
