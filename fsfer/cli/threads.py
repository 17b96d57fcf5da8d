"""``--threads``: how many CPU threads torch may use while one command runs (default 1, chosen by measuring).

``benchmarks/threads.py`` runs ``make demo``'s configuration (CRN, conv4, 64 px, 5-way
1-shot) with 1 and 2 threads on this project's 2-core machine (``benchmarks/results/threads.md``):
quiet, two threads were 1.8x faster; beside two other CPU-bound jobs, one thread was 1.1-1.2x
faster; and two threads sharing the cores with a test suite ran 4.1x slower than one
(OpenMP threads that share cores with other work wait on each other). One thread is never
the slow case by much, and keeps a run's numbers the same whatever the load.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Iterator, Optional

import typer

from fsfer.errors import ConfigError

#: torch threads when --threads is not given (see the module docstring for the measurement)
DEFAULT_THREADS = 1

ThreadsOption = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        help="CPU threads for torch. One is the safe default on a shared machine (two ran the default "
        "run 4x slower beside other work); on cores you have to yourself, more are faster (2: 1.8x on 2 "
        "cores; benchmarks/threads.py).",
        show_default=str(DEFAULT_THREADS),
    ),
]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(threads or DEFAULT_THREADS)``, then restore the previous count."""
    if threads is None:
        threads = DEFAULT_THREADS
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1; got {threads}")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
