"""Subjects in episodes: who is in a store, and whether an episode keeps its people apart.

A face dataset holds the same people many times. When a class's support and query
share a subject, a few-shot method can win by recognising the person rather than
the expression, so fsfer draws subject-disjoint episodes whenever every image has a
subject (see :class:`~fsfer.episodes.sampler.EpisodeSampler`). These helpers find the
subjects of a store's rows, decide the default, and check an episode set afterwards.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def subject_codes(dataset, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray | None:
    """Integer subject codes ``[len(dataset)]`` (-1 where unknown), or None unless every row of ``rows`` has a subject.

    ``dataset`` is anything with ``records`` (a Records table); ``rows`` defaults to all rows.
    """
    records = getattr(dataset, "records", None)
    if records is None or "subject" not in getattr(records, "columns", ()) or len(records) == 0:
        return None
    subjects = records["subject"]
    known = subjects.notna().to_numpy()
    picked = known if rows is None else known[np.asarray(rows, dtype=np.int64)]
    if picked.size == 0 or not picked.all():
        return None
    codes = np.full(len(records), -1, dtype=np.int64)
    # str() so that ids read as numbers in one table and as text in another still match
    _, codes[known] = np.unique(subjects[known].astype(str).to_numpy(), return_inverse=True)
    return codes


def min_images_for_shots(counts: Iterable[int], k_shot: int) -> int:
    """The fewest images that ``k_shot`` support images can take out of a class's query pool.

    Every image of a support subject leaves the query, so the best case is the set of
    subjects holding at least ``k_shot`` images with the smallest total. ``counts`` are
    the images per subject. An exact subset-sum over a bitset (bit ``s`` set when some
    subjects hold exactly ``s`` images); returns the total of all images when no set reaches ``k_shot``.
    """
    counts = [int(c) for c in counts if int(c) > 0]
    reach = 1
    for c in counts:
        reach |= reach << c
    reach >>= k_shot
    if reach == 0:
        return sum(counts)
    return k_shot + ((reach & -reach).bit_length() - 1)


def shares_subjects(dataset, episodes: Sequence) -> bool | None:
    """Whether any episode puts one subject in both the support and the query of a class.

    ``episodes`` are :class:`~fsfer.episodes.sampler.EpisodeIndex` objects. None when
    some image of the episodes has no subject (the question has no answer).
    """
    if not episodes:
        return None
    rows = np.unique(np.concatenate([np.concatenate([e.support.numpy(), e.query.numpy()]) for e in episodes]))
    codes = subject_codes(dataset, rows)
    if codes is None:
        return None
    n = int(codes.max()) + 1
    for e in episodes:
        # (way, subject) pairs as one integer each; any pair in both support and query is a leak
        sup = set((e.support_labels.numpy() * n + codes[e.support.numpy()]).tolist())
        qry = set((e.query_labels.numpy() * n + codes[e.query.numpy()]).tolist())
        if sup & qry:
            return True
    return False


def disjoint_flag(dataset, episodes: Sequence) -> bool:
    """``True`` when every image has a subject and no class shares one between support and query."""
    return shares_subjects(dataset, episodes) is False
