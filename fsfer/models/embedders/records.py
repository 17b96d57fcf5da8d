"""Intermediates of recent forward calls, for auxiliary losses that act on more than the returned features.

A method embeds the support and the query in separate calls, then hands the embedder's
``aux_losses`` the two outputs concatenated. An embedder whose losses need tensors other
than its output (DAN: the trunk's pooled features and the head outputs) records them at
each forward; :meth:`ForwardRecords.match` finds the run of consecutive calls whose
outputs, concatenated in call order, equal the ``features`` handed to ``aux_losses``, and
returns their intermediates concatenated the same way (so they carry the autograd graph of
those calls). Only the last ``capacity`` calls are kept, and a successful match clears the
records, so nothing grows without bound; a copied or pickled module starts with none.
"""

from __future__ import annotations

from collections import deque

import torch

from fsfer.errors import ModelError


class ForwardRecords:
    """The outputs and named intermediates of the last ``capacity`` forward calls of one module."""

    def __init__(self, capacity: int = 8) -> None:
        self._items: deque[tuple[torch.Tensor, dict[str, torch.Tensor]]] = deque(maxlen=capacity)

    def __deepcopy__(self, memo: dict) -> "ForwardRecords":
        # a copy of the module starts with no records (recorded tensors may be non-leaf, which deepcopy refuses)
        return ForwardRecords(self._items.maxlen or 8)

    def __getstate__(self) -> dict:
        return {"capacity": self._items.maxlen or 8}

    def __setstate__(self, state: dict) -> None:
        self._items = deque(maxlen=state["capacity"])

    def __len__(self) -> int:
        return len(self._items)

    def add(self, output: torch.Tensor, **intermediates: torch.Tensor) -> None:
        """Keep ``output`` ``[B, ...]`` with its intermediates (each ``[B, ...]``)."""
        self._items.append((output, intermediates))

    def clear(self) -> None:
        self._items.clear()

    def match(self, features: torch.Tensor, owner: str) -> dict[str, torch.Tensor]:
        """The intermediates of the calls whose outputs make up ``features`` ``[N, ...]``, concatenated.

        The most recent matching run of consecutive calls wins; the records are then cleared.
        Raises :class:`ModelError` when no run of recorded calls produced ``features``.
        """
        items = list(self._items)
        n = features.shape[0]
        wanted = features.detach()
        for end in range(len(items), 0, -1):
            total = 0
            for start in range(end - 1, -1, -1):
                total += items[start][0].shape[0]
                if total > n:
                    break
                if total < n:
                    continue
                chunk = items[start:end]
                outputs = torch.cat([out.detach() for out, _ in chunk]) if len(chunk) > 1 else chunk[0][0].detach()
                if outputs.shape == wanted.shape and torch.equal(outputs, wanted):
                    names = chunk[0][1].keys()
                    found = {name: torch.cat([extra[name] for _, extra in chunk]) for name in names}
                    self.clear()
                    return found
                break
        raise ModelError(
            f"{owner}.aux_losses needs the features of its own recent forward calls (e.g. the support and the query "
            f"maps, concatenated in the order they were embedded); these {tuple(features.shape)} features match none "
            f"of the last {len(items)} calls"
        )
