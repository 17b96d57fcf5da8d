"""EpisodeSampler: seeded N-way K-shot Q-query tasks as index tensors into an ImageStore.

Episode ``i`` depends only on ``(seed, i)``: its random numbers are counter-based
(:mod:`fsfer.episodes.counter_rng`), so episodes are the same with 0 or 8 DataLoader
workers, in any order, on any machine, and a block of episodes is drawn with a few
vectorised numpy operations. Sampling touches no image; an episode's images are
gathered with one tensor index (also on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from fsfer.episodes.counter_rng import counters, episode_keys, episode_seed, random_bits, uniforms
from fsfer.episodes.episode import Episode
from fsfer.episodes.subjects import min_images_for_shots, subject_codes
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


#: pools of at least ``DRAWN_POOL * (k_shot + q_query)`` images are drawn in O(K + Q), not O(pool)
DRAWN_POOL = 4
#: episodes drawn together (one vectorised draw, cached for ``index``/``__getitem__``)
BLOCK = 64
# counter streams (see counter_rng): way keys, image keys per way slot, draws per way slot, query sizes,
# fresh keys for a subject-disjoint way whose first order left too few query candidates
STREAM_WAYS, STREAM_KEYS, STREAM_DRAWS, STREAM_QUERY_SIZES, STREAM_RETRY = 0, 1, 1 << 16, 1 << 17, 1 << 18
#: redraws of a subject-disjoint way before its class is reported as too small
DISJOINT_RETRIES = 64


def _smallest(bits: np.ndarray, m: int, sizes: np.ndarray | None = None) -> np.ndarray:
    """Column indices of the ``m`` smallest random keys of each row, smallest first.

    ``bits`` uint64 ``[R, W]`` random keys; columns at or past a row's ``sizes`` ``[R]``
    are never chosen -> int64 ``[R, m]``. Each key's low bits are replaced by its column
    index, so one numpy sort of plain integers (SIMD-fast) yields both the order and the
    columns; at least 40 random bits remain for widths up to 2**24 (equal ones, about
    never, are ordered by column).
    """
    width = bits.shape[1]
    shift = np.uint64(max(1, (width - 1).bit_length()))
    packed = ((bits >> shift) << shift) | np.arange(width, dtype=np.uint64)
    if sizes is not None:
        packed[np.arange(width)[None, :] >= sizes[:, None]] = np.iinfo(np.uint64).max
    chosen = np.sort(packed, axis=1)[:, :m]
    return (chosen & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.int64)


def episode_generator(seed: int, index: int) -> torch.Generator:
    """A torch generator for episode ``index`` under ``seed`` (for per-episode augmentation)."""
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
    ``unbalanced`` draws each class's query size from 1..Q. Indexable (``sampler[i]``
    is an :class:`Episode` with uint8 images, or passed through ``transform``) and
    iterable over ``episodes`` episodes; usable in a DataLoader with ``batch_size=None``.

    ``disjoint_subjects`` keeps the subjects of a class's support out of its query:
    ``None`` (the default) turns it on whenever every drawable image has a subject,
    ``True`` requires subjects, ``False`` turns it off; ``self.disjoint`` says which it
    is. The support is drawn as in the plain sampler (the first K of a random order of
    the class's pool); the query is the next Q images of that order whose subject is
    not in the support. A way whose order leaves too few is redrawn with fresh keys
    (still a function of ``(seed, i)`` alone). A class whose subjects cannot give K
    shots and Q disjoint queries in any draw is an error up front, naming the class.
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
        disjoint_subjects: bool | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.dataset = dataset
        self.n_way, self.k_shot, self.q_query = int(n_way), int(k_shot), int(q_query)
        self.seed, self.episodes = int(seed), int(episodes)
        self.allow_small, self.unbalanced = allow_small, unbalanced
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
        #: subject code of every store row (-1: unknown) when episodes are subject-disjoint, else None
        self.subject_codes: np.ndarray | None = None
        codes = subject_codes(dataset, rows.numpy()) if disjoint_subjects is not False else None
        if disjoint_subjects and codes is None:
            raise EpisodeError(
                "disjoint_subjects needs a subject for every image and some have none; give the data subjects "
                "(a manifest.csv, or ?subject=REGEX for folder data) or turn it off (--no-disjoint-subjects)"
            )
        self.disjoint = codes is not None
        if self.disjoint:
            self.subject_codes = codes
            usable = self._disjoint_usable(wanted, usable, codes)
        self.usable = np.asarray(usable, dtype=np.int64)
        # pools as one padded matrix, so a block of episodes is drawn with array operations
        self.pool_sizes = np.asarray(sizes, dtype=np.int64)
        width = max(sizes) if sizes else 0
        self.pool_matrix = np.zeros((len(self.pools), width), dtype=np.int64)
        for c, pool in enumerate(self.pools):
            self.pool_matrix[c, : pool.numel()] = pool.numpy()
        self._class_ids = self.class_ids.numpy()
        self.support_labels = torch.arange(self.n_way).repeat_interleave(self.k_shot)
        self.plain_query_labels = torch.arange(self.n_way).repeat_interleave(self.q_query)
        # allow_small alone changes nothing while every class has K + Q images: the fast path then serves
        self._plain = not (unbalanced or self.disjoint) and min(sizes[i] for i in usable) >= self.k_shot + self.q_query
        self._block_cache: tuple[int, tuple[torch.Tensor, torch.Tensor]] | None = None
        self._labels_cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _disjoint_usable(self, wanted: list[str], usable: list[int], codes: np.ndarray) -> list[int]:
        """The usable classes under subject-disjoint episodes; an EpisodeError names a class that cannot serve.

        A class serves when, in the best case (support on the subjects with the fewest
        images that hold K shots), the other subjects keep Q images for the query (one
        under ``allow_small``, which drops the classes that cannot).
        """
        need = 1 if self.allow_small else self.q_query
        kept, worst = [], None
        for i in usable:
            counts = np.bincount(codes[self.pools[i].numpy()])
            counts = counts[counts > 0]
            left = int(self.pools[i].numel()) - min_images_for_shots(counts, self.k_shot)
            if left >= need:
                kept.append(i)
            elif worst is None:
                worst = (i, counts.size, left)
        if worst is not None and (not self.allow_small or len(kept) < self.n_way):
            i, n_subjects, left = worst
            raise EpisodeError(
                f"class {wanted[i]!r} has {n_subjects} subject(s) ({int(self.pools[i].numel())} images): "
                f"{self.k_shot} shot(s) leave at most {left} image(s) of other subjects for its query, "
                f"fewer than {'1' if self.allow_small else f'q_query = {self.q_query}'}; "
                "allow small queries (allow_small), use fewer shots, or turn subject-disjoint episodes off "
                "(--no-disjoint-subjects)"
            )
        return kept

    def __len__(self) -> int:
        return self.episodes

    # -- drawing ---------------------------------------------------------------------------

    def _ways(self, keys: np.ndarray) -> np.ndarray:
        """Pool ids of each episode's ways, in random order: the n_way smallest of one key per usable class.

        ``keys`` uint64 ``[B]`` -> int64 ``[B, n_way]``.
        """
        return self.usable[_smallest(random_bits(keys[:, None], counters(STREAM_WAYS, self.usable.size)), self.n_way)]

    @staticmethod
    def _by_keys(keys: np.ndarray, slots: np.ndarray, sizes: np.ndarray, m: int) -> np.ndarray:
        """The first ``m`` positions of a random order of each pool: one key per image, smallest first.

        ``keys`` uint64 ``[R]`` (each row's episode key), ``slots`` ``[R]`` (way slot),
        ``sizes`` ``[R]`` (pool size, at least ``m``) -> int64 ``[R, m]`` positions in the pools.
        """
        width = int(sizes.max())
        bits = random_bits(keys[:, None], counters(STREAM_KEYS + slots, width))
        return _smallest(bits, m, sizes if (sizes < width).any() else None)

    @classmethod
    def _by_draws(cls, keys: np.ndarray, slots: np.ndarray, sizes: np.ndarray, m: int) -> np.ndarray:
        """Like :meth:`_by_keys` in O(K + Q) rather than O(pool): draw with replacement, keep first sightings.

        Each row draws ``2m + 16`` positions uniformly and keeps the first ``m`` distinct
        ones in drawing order, which is sampling without replacement. Two sorts of
        packed integers do it: (position, draw number) finds each position's first
        sighting, then the draw numbers of first sightings put them back in drawing
        order. A row that saw fewer than ``m`` distinct positions (rare for pools of at
        least ``4m``) falls back to :meth:`_by_keys`; both depend only on the row's key.
        """
        draws = 2 * m + 16
        shift = np.uint64((draws - 1).bit_length())
        u = uniforms(keys[:, None], counters(STREAM_DRAWS + slots, draws))
        drawn = (u * sizes[:, None]).astype(np.uint64)  # [R, draws], each in 0..size-1
        ranked = np.sort((drawn << shift) | np.arange(draws, dtype=np.uint64), axis=1)
        first = np.ones(ranked.shape, dtype=bool)
        first[:, 1:] = (ranked[:, 1:] >> shift) != (ranked[:, :-1] >> shift)
        when = np.where(first, ranked & ((np.uint64(1) << shift) - np.uint64(1)), np.uint64(draws))
        when = np.sort(when, axis=1)[:, :m].astype(np.int64)  # draw numbers of the first m first sightings
        ok = when[:, -1] < draws
        out = np.take_along_axis(drawn, np.minimum(when, draws - 1), axis=1).astype(np.int64)
        if not ok.all():
            out[~ok] = cls._by_keys(keys[~ok], slots[~ok], sizes[~ok], m)
        return out

    def _positions(self, keys: np.ndarray, ways: np.ndarray, m: int) -> np.ndarray:
        """The first ``m`` positions of a random order of each way's pool.

        ``keys`` ``[B]``, ``ways`` ``[B, n_way]`` pool ids -> int64 ``[B, n_way, m]``.
        """
        sizes = self.pool_sizes[ways]
        out = np.empty(ways.shape + (m,), dtype=np.int64)
        large = sizes >= DRAWN_POOL * m
        slots = np.broadcast_to(np.arange(ways.shape[1]), ways.shape)
        for mask, draw in ((~large, self._by_keys), (large, self._by_draws)):
            if mask.any():
                b, w = np.nonzero(mask)
                out[b, w] = draw(keys[b], slots[b, w], sizes[b, w], m)
        return out

    def _block(self, block: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows and classes of the plain episodes ``block * BLOCK ..``: ``[BLOCK, n_way * (k_shot + q_query)]``
        (all supports then all queries, class-major) and ``[BLOCK, n_way]`` global class ids.
        """
        cached = self._block_cache
        if cached is not None and cached[0] == block:
            return cached[1]
        keys = episode_keys(self.seed, np.arange(block * BLOCK, (block + 1) * BLOCK))
        ways = self._ways(keys)
        positions = self._positions(keys, ways, self.k_shot + self.q_query)
        rows = self.pool_matrix[ways[:, :, None], positions]  # [BLOCK, n_way, K + Q]; never a whole pool
        both = np.concatenate([rows[:, :, : self.k_shot].reshape(BLOCK, -1), rows[:, :, self.k_shot :].reshape(BLOCK, -1)], axis=1)
        result = (torch.from_numpy(both), torch.from_numpy(self._class_ids[ways]))
        self._block_cache = (block, result)
        return result

    def index(self, i: int) -> EpisodeIndex:
        """The indices of episode ``i`` (no image is touched).

        The ways are the ``n_way`` usable classes with the smallest keys, in key order.
        Each way's pool is put in a random order (by one key per image, or for pools of
        at least ``DRAWN_POOL * (K + Q)`` images by draws with replacement, first sightings
        kept); the first K are its support and the next Q its query. Every random number
        is a counter-based function of ``(seed, i)``.
        """
        if self._plain:
            both, classes = self._block(i // BLOCK)
            row, n_support = both[i % BLOCK], self.n_way * self.k_shot
            return EpisodeIndex(
                support=row[:n_support],
                query=row[n_support:],
                support_labels=self.support_labels,
                query_labels=self.plain_query_labels,
                classes=classes[i % BLOCK],
            )
        keys = episode_keys(self.seed, np.array([i]))
        ways = self._ways(keys)[0]
        support, query = self._draw_special(i, keys, ways)
        q_labels = torch.cat([torch.full((q.numel(),), w, dtype=torch.long) for w, q in enumerate(query)])
        return EpisodeIndex(
            support=torch.cat(support),
            query=torch.cat(query),
            support_labels=self.support_labels,
            query_labels=q_labels,
            classes=torch.from_numpy(self._class_ids[ways]),
        )

    def _draw_special(self, i: int, keys: np.ndarray, ways: np.ndarray) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-way support and query under allow_small, unbalanced or subject-disjoint episodes."""
        if self.unbalanced:
            u = uniforms(keys[:, None], counters(STREAM_QUERY_SIZES, self.n_way))[0]
            q_sizes = 1 + (u * self.q_query).astype(np.int64)
        else:
            q_sizes = np.full(self.n_way, self.q_query, dtype=np.int64)
        if self.disjoint:
            return self._draw_disjoint(i, keys, ways, q_sizes)
        support, query = [], []
        m = self.k_shot + self.q_query
        for way, pool_id in enumerate(ways.tolist()):
            size = int(self.pool_sizes[pool_id])
            slot, size_ = np.array([way]), np.array([size])
            if size >= DRAWN_POOL * m:  # as the plain draw, so that these options alone change no episode
                positions = self._by_draws(keys, slot, size_, m)[0]
            else:
                positions = self._by_keys(keys, slot, size_, min(m, size))[0]
            order = torch.from_numpy(self.pool_matrix[pool_id, positions])
            shots, rest = order[: self.k_shot], order[self.k_shot :]
            if rest.numel() < q_sizes[way] and not self.allow_small:
                raise EpisodeError(
                    f"episode {i}: class {self.class_names[pool_id]!r} has {rest.numel()} query candidates "
                    f"after its support, fewer than q_query = {q_sizes[way]}; allow small classes (allow_small)"
                )
            if rest.numel() == 0:
                raise EpisodeError(f"episode {i}: class {self.class_names[pool_id]!r} has no image left for the query")
            support.append(shots)
            query.append(rest[: int(q_sizes[way])])
        return support, query

    def _disjoint_order(
        self, keys: np.ndarray, slots: np.ndarray, pool_ids: np.ndarray, m: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Store rows in a random order of each way's pool, and which are real: ``[R, W]`` rows and ``[R, W]`` mask.

        Pools that the plain draw would draw with replacement (at least ``DRAWN_POOL *
        (K + Q)`` images) give the first ``m`` of the order in O(m) (:meth:`_by_draws`,
        whose first K are the plain draw's support); the others, or all when ``m`` is
        None, give their whole order (:meth:`_by_keys`, whose first K are too).
        """
        sizes = self.pool_sizes[pool_ids]
        large = sizes >= DRAWN_POOL * (self.k_shot + self.q_query) if m is not None else np.zeros(sizes.shape, dtype=bool)
        m = m or 0
        width = int(max(m if large.any() else 0, sizes[~large].max() if (~large).any() else 0))
        positions = np.zeros((pool_ids.size, width), dtype=np.int64)
        real = np.zeros((pool_ids.size, width), dtype=bool)
        if large.any():
            positions[large, :m] = self._by_draws(keys[large], slots[large], sizes[large], m)
            real[large, :m] = True
        if (~large).any():
            small = ~large
            w = int(sizes[small].max())
            positions[small, :w] = self._by_keys(keys[small], slots[small], sizes[small], w)
            real[small, :w] = np.arange(w)[None, :] < sizes[small][:, None]
        positions[~real] = 0
        return self.pool_matrix[pool_ids[:, None], positions], real

    def _draw_disjoint(
        self, i: int, keys: np.ndarray, ways: np.ndarray, q_sizes: np.ndarray
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Subject-disjoint ways of episode ``i``, all ways in a few array operations.

        Each way's support is the first K of a random order of its pool; its query the
        next ``q_sizes[way]`` images of that order whose subject is not in the support.
        Large pools look at a prefix of the order first, and at the whole order only if
        the prefix falls short; a way whose whole order falls short is redrawn with
        fresh keys (``DISJOINT_RETRIES`` times) before it is reported.
        """
        k, codes = self.k_shot, self.subject_codes
        slots = np.arange(self.n_way)
        # at most DRAWN_POOL * (K + Q): every pool that takes the O(m) draw has at least that many images
        prefix = min(k + 2 * int(q_sizes.max()) + 8, DRAWN_POOL * (k + self.q_query))
        need = np.where(self.allow_small, 1, q_sizes)
        support: list[torch.Tensor | None] = [None] * self.n_way
        query: list[torch.Tensor | None] = [None] * self.n_way
        todo = slots
        way_keys = np.repeat(keys, self.n_way)
        for attempt in range(DISJOINT_RETRIES + 1):
            if attempt:
                way_keys = random_bits(way_keys, counters(STREAM_RETRY, 1)[0])
            for m in (prefix, None):  # a prefix of the order, then (if needed) the whole order
                pools = ways[todo]
                order, real = self._disjoint_order(way_keys[todo], todo, pools, m)
                subj = codes[order]
                ok = real[:, k:] & ~(subj[:, k:, None] == subj[:, :k, None].transpose(0, 2, 1)).any(axis=2)
                found = ok.sum(axis=1)
                done = found >= need[todo]
                ranks = np.cumsum(ok, axis=1)
                for r in np.flatnonzero(done):
                    way = int(todo[r])
                    support[way] = torch.from_numpy(order[r, :k].copy())
                    picked = ok[r] & (ranks[r] <= q_sizes[way])
                    query[way] = torch.from_numpy(order[r, k:][picked].copy())
                todo = todo[~done]
                if todo.size == 0:
                    return support, query  # type: ignore[return-value]
        pool_id = int(ways[todo[0]])
        raise EpisodeError(
            f"episode {i}: class {self.class_names[pool_id]!r} gave fewer than "
            f"{int(need[todo[0]])} query image(s) of subjects outside its support in {DISJOINT_RETRIES + 1} draws; "
            "allow small queries (allow_small), use fewer shots, or turn subject-disjoint episodes off (--no-disjoint-subjects)"
        )

    # -- gathering -------------------------------------------------------------------------

    def _labels_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The plain support and query labels on ``device`` (moved once)."""
        if device not in self._labels_cache:
            self._labels_cache[device] = (self.support_labels.to(device), self.plain_query_labels.to(device))
        return self._labels_cache[device]

    def _plain_episodes(self, start: int, stop: int) -> Iterator[Episode]:
        """Plain episodes ``start..stop-1``: per block, the rows move to the store's device once;
        per episode, one ``index_select`` gathers support and query together.
        """
        images = self.dataset.images
        device = images.device
        support_labels, query_labels = self._labels_on(device)
        n_support = self.n_way * self.k_shot
        i = start
        while i < stop:
            block = i // BLOCK
            both, classes = (t.to(device).unbind(0) for t in self._block(block))
            for r in range(i - block * BLOCK, min(BLOCK, stop - block * BLOCK)):
                picked = images.index_select(0, both[r])
                if self.transform is not None:
                    picked = self.transform(picked)
                yield Episode(picked[:n_support], support_labels, picked[n_support:], query_labels, classes[r])
            i = (block + 1) * BLOCK

    def __getitem__(self, i: int) -> Episode:
        if not 0 <= i < self.episodes:
            raise IndexError(f"episode {i} out of range 0..{self.episodes - 1}")
        if self._plain:
            return next(self._plain_episodes(i, i + 1))
        return gather(self.dataset.images, self.index(i), self.transform)

    def __iter__(self) -> Iterator[Episode]:
        if self._plain:
            yield from self._plain_episodes(0, self.episodes)
            return
        for i in range(self.episodes):
            yield self[i]
