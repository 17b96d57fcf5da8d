"""``--threads``: how many CPU threads torch may use while one command runs."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Iterator, Optional

import typer

from fsfer.errors import ConfigError

ThreadsOption = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        help="CPU threads for torch (default: torch's choice, one per core). "
        "1 is often fastest for small models on a busy machine.",
    ),
]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(threads)``, then restore the previous count."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1; got {threads}")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
