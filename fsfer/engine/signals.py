"""SIGINT and SIGTERM during a run: note the request, let the loop save its state and stop cleanly.

The handlers only set a flag; the training loops look at it between steps, write
``last.pt`` at the step they have reached, and raise :class:`~fsfer.errors.Interrupted`
(the CLI prints where to resume from and exits 130). A second signal while the loop is
saving is noted too, and does not interrupt the write (checkpoints are atomic anyway).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


class StopSignals:
    """A context manager: while inside, SIGINT/SIGTERM set :attr:`received` (the signal's name) instead of stopping.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum).name

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
