"""Episode: one N-way K-shot Q-query task, as tensors."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from fsfer.errors import EpisodeError


@dataclass
class Episode:
    """One few-shot task, class-major (all shots of way 0, then way 1, ...).

    ``support_images``  ``[n_way * k_shot, C, H, W]`` (uint8 from a store, or float once normalised)
    ``support_labels``  ``[n_way * k_shot]`` int64 in ``0..n_way-1``
    ``query_images``    ``[n_query, C, H, W]``
    ``query_labels``    ``[n_query]`` int64 in ``0..n_way-1``
    ``classes``         ``[n_way]`` int64 global class ids (index into the dataset's class names)

    A user can build one from tensors; ``validate()`` checks it.
    """

    support_images: torch.Tensor
    support_labels: torch.Tensor
    query_images: torch.Tensor
    query_labels: torch.Tensor
    classes: torch.Tensor

    @property
    def n_way(self) -> int:
        return int(self.classes.numel())

    @property
    def k_shot(self) -> int:
        """Shots per class (the smallest, when the support is unbalanced)."""
        counts = torch.bincount(self.support_labels, minlength=self.n_way)
        return int(counts.min()) if counts.numel() else 0

    @property
    def n_query(self) -> int:
        return int(self.query_labels.numel())

    @property
    def support_global(self) -> torch.Tensor:
        """Global class ids of the support images ``[n_support]``."""
        return self.classes[self.support_labels]

    @property
    def query_global(self) -> torch.Tensor:
        """Global class ids of the query images ``[n_query]``."""
        return self.classes[self.query_labels]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Episode":
        """The same episode with every tensor on ``device``."""
        return replace(
            self,
            **{f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)},
        )

    def map_images(self, fn) -> "Episode":
        """The same episode with ``fn`` applied to support and query images (e.g. normalisation)."""
        return replace(self, support_images=fn(self.support_images), query_images=fn(self.query_images))

    def validate(self) -> "Episode":
        """Raise :class:`~fsfer.errors.EpisodeError` unless the tensors form a valid episode."""
        n_way = self.n_way
        if n_way < 1:
            raise EpisodeError("episode has no classes")
        if self.support_images.shape[0] != self.support_labels.numel():
            raise EpisodeError(
                f"episode: {self.support_images.shape[0]} support images but {self.support_labels.numel()} support labels"
            )
        if self.query_images.shape[0] != self.query_labels.numel():
            raise EpisodeError(
                f"episode: {self.query_images.shape[0]} query images but {self.query_labels.numel()} query labels"
            )
        for name, labels in (("support", self.support_labels), ("query", self.query_labels)):
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_way):
                raise EpisodeError(f"episode: {name} labels must lie in 0..{n_way - 1} (n_way = {n_way})")
        counts = torch.bincount(self.support_labels, minlength=n_way)
        empty = (counts == 0).nonzero().flatten().tolist()
        if empty:
            raise EpisodeError(f"episode: support has no image of way(s) {empty}; every way needs at least one shot")
        return self
