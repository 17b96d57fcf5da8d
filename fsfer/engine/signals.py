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
    """While installed, SIGINT/SIGTERM set :attr:`received` (the signal's name) instead of stopping.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum).name

    def install(self) -> "StopSignals":
        """Put the handlers in place (in the main thread only)."""
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
