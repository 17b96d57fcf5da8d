"""Fixed episode sets: the CSV round trip, its columns, and files that do not fit the data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from fsfer.episodes import EpisodeSampler, FixedEpisodes, load_episodes, save_episodes
from fsfer.episodes.fixed import summarise_file
from fsfer.errors import EpisodeError
from fsfer.store import from_tensors


def _store():
    labels = torch.arange(4).repeat_interleave(6)
    images = torch.arange(24, dtype=torch.uint8).view(24, 1, 1, 1).expand(24, 3, 2, 2).contiguous()
    return from_tensors(images, labels, ["happiness", "sadness", "anger", "fear"])


def test_round_trip_replays_the_same_episodes(tmp_path: Path) -> None:
    store = _store()
    sampler = EpisodeSampler(store, None, 3, 2, 2, seed=5, episodes=7)
    out = tmp_path / "set.csv"
    assert save_episodes(out, store, (sampler.index(i) for i in range(7))) == 7
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["episode", "role", "class", "item"]
    assert len(rows) == 1 + 7 * (6 + 6)
    assert rows[1][1] == "support" and rows[1][3].startswith("tensors:tensor/")
    fixed = FixedEpisodes(store, out)
    assert len(fixed) == 7
    for i in range(7):
        a, b = sampler[i], fixed[i]
        assert torch.equal(a.support_images, b.support_images) and torch.equal(a.query_images, b.query_images)
        assert torch.equal(a.support_labels, b.support_labels) and torch.equal(a.query_labels, b.query_labels)
        assert torch.equal(a.classes, b.classes)
    summary = summarise_file(out)
    assert (summary["episodes"], summary["n_way"], summary["k_shot"], summary["q_query"]) == (7, 3, 2, 2)


def test_items_not_in_the_dataset_are_named(tmp_path: Path) -> None:
    out = tmp_path / "e.csv"
    out.write_text("episode,role,class,item\n0,support,happiness,tensors:tensor/0\n0,query,happiness,rafdb:x.jpg\n")
    with pytest.raises(EpisodeError, match=r"e.csv: item 'rafdb:x.jpg' is not in the dataset"):
        load_episodes(out, _store())


def test_bad_columns_roles_and_wrong_classes(tmp_path: Path) -> None:
    store = _store()
    f = tmp_path / "f.csv"
    f.write_text("episode,kind,class,item\n0,support,happiness,tensors:tensor/0\n")
    with pytest.raises(EpisodeError, match="expected episode,role,class,item"):
        load_episodes(f, store)
    f.write_text("episode,role,class,item\n0,shots,happiness,tensors:tensor/0\n")
    with pytest.raises(EpisodeError, match="role 'shots'"):
        load_episodes(f, store)
    f.write_text("episode,role,class,item\n0,support,sadness,tensors:tensor/0\n")  # item 0 is happiness
    with pytest.raises(EpisodeError, match="not its label"):
        load_episodes(f, store)
    with pytest.raises(EpisodeError, match="no such episode file"):
        load_episodes(tmp_path / "none.csv", store)
