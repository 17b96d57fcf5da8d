"""EpisodeSampler: seeded N-way K-shot Q-query tasks as index tensors into an ImageStore.

Episode ``i`` depends only on ``(seed, i)``: its generator is seeded with a
splitmix64 hash of ``(seed, i)``, so episodes are the same with 0 or 8
DataLoader workers, in any order, on any machine. Sampling touches no image; an
episode's images are gathered with one tensor index (also on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from fsfer.episodes.episode import Episode
from fsfer.errors import EpisodeError


@dataclass(frozen=True)
class EpisodeIndex:
    """The indices of one episode, class-major.

    ``support``  ``[n_way * k_shot]`` row indices into the store
    ``query``    ``[n_query]`` row indices
    ``support_labels`` / ``query_labels``  ways in ``0..n_way-1``
    ``classes``  ``[n_way]`` global class ids
    """

    support: torch.Tensor
    query: torch.Tensor
    support_labels: torch.Tensor
    query_labels: torch.Tensor
    classes: torch.Tensor


_MASK64 = (1 << 64) - 1


def episode_seed(seed: int, index: int) -> int:
    """A 64-bit seed for episode ``index`` under ``seed``: splitmix64 (Steele et al., 2014) of both.

    Plain integer arithmetic, so the same on every machine; neighbouring episodes get
    unrelated seeds.
    """
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(index) * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def episode_generator(seed: int, index: int) -> torch.Generator:
    """The torch generator of episode ``index`` under ``seed`` (independent of any other episode)."""
    return torch.Generator().manual_seed(episode_seed(seed, index))


def gather(images: torch.Tensor, index: EpisodeIndex, transform: Callable | None = None) -> Episode:
    """An :class:`Episode` from an index: one ``index_select`` for support and query together."""
    both = torch.cat([index.support, index.query]).to(images.device)
    picked = images.index_select(0, both)
    if transform is not None:
        picked = transform(picked)
    n_support = index.support.numel()
    device = images.device
    return Episode(
        support_images=picked[:n_support],
        support_labels=index.support_labels.to(device),
        query_images=picked[n_support:],
        query_labels=index.query_labels.to(device),
        classes=index.classes.to(device),
    )


class EpisodeSampler(torch.utils.data.Dataset):
    """N-way K-shot Q-query episodes from the ``classes`` of a dataset.

    ``dataset`` is an :class:`~fsfer.store.ImageStore` (anything with ``labels``,
    ``classes``, ``records`` and, to gather images, ``images``). ``indices`` limits
    the draw to some rows (a protocol split). ``allow_small`` lets a class with
    fewer than K + Q images give the query what remains (an unbalanced query);
    ``unbalanced`` draws each class's query size from 1..Q; ``disjoint_subjects``
    keeps the subjects of a class's support out of its query. Indexable (``sampler[i]``
    is an :class:`Episode` with uint8 images, or passed through ``transform``) and
    iterable over ``episodes`` episodes; usable in a DataLoader with ``batch_size=None``.
    """

    def __init__(
        self,
        dataset,
        classes: Sequence[str] | None,
        n_way: int,
        k_shot: int,
        q_query: int,
        seed: int = 0,
        *,
        episodes: int = 600,
        indices: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        allow_small: bool = False,
        unbalanced: bool = False,
        disjoint_subjects: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.dataset = dataset
        self.n_way, self.k_shot, self.q_query = int(n_way), int(k_shot), int(q_query)
        self.seed, self.episodes = int(seed), int(episodes)
        self.allow_small, self.unbalanced, self.disjoint_subjects = allow_small, unbalanced, disjoint_subjects
        self.transform = transform
        for name, value, low in (("n_way", self.n_way, 1), ("k_shot", self.k_shot, 1), ("q_query", self.q_query, 1), ("episodes", self.episodes, 1)):
            if value < low:
                raise EpisodeError(f"{name} must be at least {low}; got {value}")
        names = list(dataset.classes)
        wanted = list(classes) if classes is not None else names
        unknown = [c for c in wanted if c not in names]
        if unknown:
            raise EpisodeError(f"class {unknown[0]!r} is not in the dataset (it has: {', '.join(names)})")
        labels = torch.as_tensor(dataset.labels).cpu()
        rows = torch.arange(labels.numel()) if indices is None else torch.as_tensor(np.asarray(indices), dtype=torch.long)
        row_labels = labels[rows]
        self.class_ids = torch.tensor([names.index(c) for c in wanted], dtype=torch.long)
        self.class_names = wanted
        #: rows of each drawable class, in store order
        self.pools = [rows[row_labels == cid] for cid in self.class_ids.tolist()]
        sizes = [int(p.numel()) for p in self.pools]
        need = self.k_shot + (1 if allow_small else self.q_query)
        usable = [i for i, n in enumerate(sizes) if n >= need]
        if len(wanted) < self.n_way:
            raise EpisodeError(f"n_way = {self.n_way} is larger than the {len(wanted)} classes of this split ({', '.join(wanted)})")
        small = [i for i, n in enumerate(sizes) if n < need]
        if small and not allow_small:
            i = small[0]
            raise EpisodeError(
                f"class {wanted[i]!r} has {sizes[i]} images, fewer than k_shot + q_query = {need}; "
                "lower --k-shot/--q-query or allow small classes (allow_small)"
            )
        if len(usable) < self.n_way:
            i = small[0]
            raise EpisodeError(
                f"class {wanted[i]!r} has {sizes[i]} images, fewer than k_shot + 1 = {need}, "
                f"leaving {len(usable)} usable classes for {self.n_way}-way episodes"
            )
        self.usable = torch.tensor(usable, dtype=torch.long)
        # pools as one padded matrix, so one batched draw permutes every way of an episode
        self.pool_sizes = torch.tensor(sizes, dtype=torch.long)
        width = max(sizes) if sizes else 0
        self.pool_matrix = torch.zeros(len(self.pools), width, dtype=torch.long)
        for c, pool in enumerate(self.pools):
            self.pool_matrix[c, : pool.numel()] = pool
        self.pool_pad = torch.arange(width)[None, :] >= self.pool_sizes[:, None]
        self.support_labels = torch.arange(self.n_way).repeat_interleave(self.k_shot)
        self.plain_query_labels = torch.arange(self.n_way).repeat_interleave(self.q_query)
        self.subjects: torch.Tensor | None = None
        if disjoint_subjects:
            subj = dataset.records["subject"]
            if subj.isna().any():
                raise EpisodeError("disjoint_subjects needs a subject for every image; this dataset has none for some")
            _, codes = np.unique(subj.to_numpy().astype(str), return_inverse=True)
            self.subjects = torch.as_tensor(codes, dtype=torch.long)

    def __len__(self) -> int:
        return self.episodes

    def index(self, i: int) -> EpisodeIndex:
        """The indices of episode ``i`` (no image is touched).

        The ways are a random subset of the usable classes; each way's images are
        ordered by random keys drawn for all ways at once (padding sorts last), the
        first K are its support and the next Q its query.
        """
        g = episode_generator(self.seed, i)
        ways = self.usable[torch.randperm(self.usable.numel(), generator=g)[: self.n_way]]
        keys = torch.rand(self.n_way, self.pool_matrix.shape[1], generator=g).masked_fill_(self.pool_pad[ways], 2.0)
        plain = not (self.allow_small or self.unbalanced or self.subjects is not None)
        if plain:
            order = keys.topk(self.k_shot + self.q_query, dim=1, largest=False).indices
            picked = self.pool_matrix[ways].gather(1, order)  # [n_way, k_shot + q_query]
            query = picked[:, self.k_shot :].reshape(-1)
            q_labels = self.plain_query_labels
            support = picked[:, : self.k_shot].reshape(-1)
        else:
            support, query = self._draw_special(i, g, ways, self.pool_matrix[ways].gather(1, keys.argsort(dim=1)))
            q_labels = torch.cat([torch.full((q.numel(),), w, dtype=torch.long) for w, q in enumerate(query)])
            support, query = torch.cat(support), torch.cat(query)
        return EpisodeIndex(
            support=support,
            query=query,
            support_labels=self.support_labels,
            query_labels=q_labels,
            classes=self.class_ids[ways],
        )

    def _draw_special(
        self, i: int, g: torch.Generator, ways: torch.Tensor, ordered: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-way support and query under allow_small, unbalanced or disjoint_subjects."""
        q_sizes = (
            torch.randint(1, self.q_query + 1, (self.n_way,), generator=g).tolist()
            if self.unbalanced
            else [self.q_query] * self.n_way
        )
        support, query = [], []
        for way, pool_id in enumerate(ways.tolist()):
            order = ordered[way, : int(self.pool_sizes[pool_id])]
            shots, rest = order[: self.k_shot], order[self.k_shot :]
            if self.subjects is not None:
                rest = rest[~torch.isin(self.subjects[rest], self.subjects[shots])]
            if rest.numel() < q_sizes[way] and not self.allow_small:
                raise EpisodeError(
                    f"episode {i}: class {self.class_names[pool_id]!r} has {rest.numel()} query candidates "
                    f"after its support, fewer than q_query = {q_sizes[way]}; allow small classes (allow_small)"
                )
            if rest.numel() == 0:
                raise EpisodeError(f"episode {i}: class {self.class_names[pool_id]!r} has no image left for the query")
            support.append(shots)
            query.append(rest[: q_sizes[way]])
        return support, query

    def __getitem__(self, i: int) -> Episode:
        if not 0 <= i < self.episodes:
            raise IndexError(f"episode {i} out of range 0..{self.episodes - 1}")
        return gather(self.dataset.images, self.index(i), self.transform)

    def __iter__(self) -> Iterator[Episode]:
        for i in range(self.episodes):
            yield self[i]
