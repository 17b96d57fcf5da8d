"""A bridge to learn2learn (Arnold et al., 2020) for users of its task API.

:func:`as_metadataset` wraps an ImageStore as a ``learn2learn.data.MetaDataset``
whose bookkeeping comes from the labels, so no image is loaded to learn them
(learn2learn's own bookkeeping loads every image; its issues 76 and 94).
:func:`make_taskset` builds the usual ``Taskset`` with NWays, KShots, LoadData and
RemapLabels.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from types import ModuleType
from typing import Sequence

import numpy as np
import torch


def import_learn2learn() -> ModuleType:
    """``learn2learn``, imported without the gym banner and warnings it prints at import."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import learn2learn
    return learn2learn


class StoreImages(torch.utils.data.Dataset):
    """``(image uint8 [3, S, S], global label)`` pairs of some rows of a store."""

    def __init__(self, dataset, indices: Sequence[int] | np.ndarray | torch.Tensor | None = None) -> None:
        self.images = dataset.images
        labels = torch.as_tensor(dataset.labels).cpu()
        self.rows = torch.arange(labels.numel()) if indices is None else torch.as_tensor(np.asarray(indices), dtype=torch.long)
        self.labels = labels[self.rows]

    def __len__(self) -> int:
        return int(self.rows.numel())

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[int(self.rows[i])], int(self.labels[i])


def as_metadataset(dataset, indices: Sequence[int] | np.ndarray | torch.Tensor | None = None):
    """A ``learn2learn.data.MetaDataset`` over a store (or some of its rows); labels are global class ids."""
    l2l = import_learn2learn()
    items = StoreImages(dataset, indices)
    labels = items.labels.tolist()
    labels_to_indices: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        labels_to_indices.setdefault(y, []).append(i)
    return l2l.data.MetaDataset(items, labels_to_indices=labels_to_indices, indices_to_labels=dict(enumerate(labels)))


def make_taskset(
    dataset,
    n_way: int,
    k_shot: int,
    q_query: int,
    num_tasks: int = -1,
    indices: Sequence[int] | np.ndarray | torch.Tensor | None = None,
):
    """A ``learn2learn.data.Taskset`` of N-way (K+Q)-shot tasks with labels remapped to 0..N-1.

    Each task is ``(images [N*(K+Q), 3, S, S], labels [N*(K+Q)])``; split support and
    query per class as learn2learn users do (e.g. ``learn2learn.data.partition_task``).
    """
    l2l = import_learn2learn()
    meta = as_metadataset(dataset, indices)
    transforms = [
        l2l.data.transforms.NWays(meta, n_way),
        l2l.data.transforms.KShots(meta, k_shot + q_query),
        l2l.data.transforms.LoadData(meta),
        l2l.data.transforms.RemapLabels(meta),
    ]
    return l2l.data.Taskset(meta, task_transforms=transforms, num_tasks=num_tasks)
