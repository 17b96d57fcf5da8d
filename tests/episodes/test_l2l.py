"""The learn2learn bridge: a MetaDataset that loads no image for its bookkeeping, and valid tasks."""

from __future__ import annotations

import torch

from fsfer.episodes.l2l import StoreImages, as_metadataset, make_taskset
from fsfer.store import from_tensors


def _store():
    labels = torch.arange(6).repeat_interleave(8)
    images = torch.arange(48, dtype=torch.uint8).view(48, 1, 1, 1).expand(48, 3, 4, 4).contiguous()
    return from_tensors(images, labels, [f"c{i}" for i in range(6)])


def test_metadataset_bookkeeping_loads_no_image(monkeypatch) -> None:
    calls = []
    original = StoreImages.__getitem__
    monkeypatch.setattr(StoreImages, "__getitem__", lambda self, i: calls.append(i) or original(self, i))
    meta = as_metadataset(_store())
    assert calls == []
    assert sorted(meta.labels) == list(range(6))
    assert meta.labels_to_indices[2] == list(range(16, 24))


def test_taskset_gives_valid_remapped_tasks() -> None:
    store = _store()
    tasks = make_taskset(store, n_way=3, k_shot=2, q_query=3, num_tasks=5)
    for i in range(5):
        x, y = tasks[i]
        assert x.shape == (15, 3, 4, 4) and y.shape == (15,)
        assert sorted(torch.bincount(torch.as_tensor(y)).tolist()) == [5, 5, 5]
        rows = x[:, 0, 0, 0].long()
        assert len(set(rows.tolist())) == 15  # no image twice in a task
        assert len(set((rows // 8).tolist())) == 3  # three original classes


def test_taskset_on_a_split_uses_only_its_rows() -> None:
    tasks = make_taskset(_store(), n_way=2, k_shot=1, q_query=1, num_tasks=10, indices=list(range(0, 16)))
    for i in range(10):
        x, _ = tasks[i]
        assert set((x[:, 0, 0, 0].long() // 8).tolist()) == {0, 1}
