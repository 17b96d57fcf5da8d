"""Fixed episode sets: episodes saved as a small CSV that any method can replay.

Columns ``episode,role,class,item``: ``role`` is ``support`` or ``query``,
``class`` the class name, ``item`` the image's stable id ``<format>:<item>``
(for files, the path relative to the dataset root). Ways are numbered in the
order their classes first appear among an episode's support rows.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch

from fsfer.episodes.episode import Episode
from fsfer.episodes.sampler import EpisodeIndex, gather
from fsfer.errors import EpisodeError

COLUMNS = ("episode", "role", "class", "item")


def item_keys(records: pd.DataFrame) -> np.ndarray:
    """The stable id ``<source>:<item>`` of every record, as an array of strings."""
    return (records["source"].astype(str) + ":" + records["item"].astype(str)).to_numpy()


def save_episodes(path: str | Path, dataset, indices: Iterable[EpisodeIndex]) -> int:
    """Write episodes to a CSV atomically (a temporary file renamed into place); returns the count."""
    keys = item_keys(dataset.records)
    names = list(dataset.classes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    count = 0
    try:
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for e, index in enumerate(indices):
                for role, rows, ways in (("support", index.support, index.support_labels), ("query", index.query, index.query_labels)):
                    cls = index.classes[ways]
                    for row, c in zip(rows.tolist(), cls.tolist()):
                        writer.writerow((e, role, names[c], keys[row]))
                count += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def read_episode_table(path: str | Path) -> pd.DataFrame:
    """An episode CSV as a table, checked: the file exists, has the columns and only support/query roles."""
    path = Path(path)
    if not path.is_file():
        raise EpisodeError(f"{path}: no such episode file; make one with `fsfer episodes make ... --out {path}`")
    try:
        table = pd.read_csv(path, dtype={"episode": "int64", "role": str, "class": str, "item": str}, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise EpisodeError(f"{path}: not an episode file with columns {','.join(COLUMNS)} ({err})") from None
    if tuple(table.columns) != COLUMNS:
        raise EpisodeError(f"{path}: columns are {','.join(map(str, table.columns))}; expected {','.join(COLUMNS)}")
    bad_roles = set(table["role"]) - {"support", "query"}
    if bad_roles:
        raise EpisodeError(f"{path}: role {sorted(bad_roles)[0]!r} is neither support nor query")
    return table


def episode_items(path: str | Path) -> set[str]:
    """The item ids (``<source>:<item>``) an episode CSV names; an empty file is an error."""
    table = read_episode_table(path)
    if table.empty:
        raise EpisodeError(f"{path}: holds no episode")
    return set(table["item"])


def load_episodes(path: str | Path, dataset) -> list[EpisodeIndex]:
    """Episode indices from a CSV, resolved against ``dataset``; unknown items or classes are errors."""
    path = Path(path)
    table = read_episode_table(path)
    lookup = {key: i for i, key in enumerate(item_keys(dataset.records))}
    rows = table["item"].map(lookup)
    if rows.isna().any():
        missing = table["item"][rows.isna()]
        raise EpisodeError(
            f"{path}: item {missing.iloc[0]!r} is not in the dataset ({missing.nunique()} unknown items); "
            "replay the file with the --data it was made from"
        )
    names = {name: i for i, name in enumerate(dataset.classes)}
    unknown = set(table["class"]) - set(names)
    if unknown:
        raise EpisodeError(f"{path}: class {sorted(unknown)[0]!r} is not in the dataset")
    labels = torch.as_tensor(dataset.labels).cpu()
    table = table.assign(row=rows.astype("int64"))
    out = []
    for e, ep in table.groupby("episode", sort=True):
        sup, qry = ep[ep["role"] == "support"], ep[ep["role"] == "query"]
        order = list(dict.fromkeys(sup["class"]))
        way = {c: w for w, c in enumerate(order)}
        if set(qry["class"]) - set(order):
            raise EpisodeError(f"{path}: episode {e} has a query class with no support image")
        idx = EpisodeIndex(
            support=torch.tensor(sup["row"].to_numpy()),
            query=torch.tensor(qry["row"].to_numpy()),
            support_labels=torch.tensor([way[c] for c in sup["class"]], dtype=torch.long),
            query_labels=torch.tensor([way[c] for c in qry["class"]], dtype=torch.long),
            classes=torch.tensor([names[c] for c in order], dtype=torch.long),
        )
        both = torch.cat([idx.support, idx.query])
        expected = idx.classes[torch.cat([idx.support_labels, idx.query_labels])]
        if not torch.equal(labels[both], expected):
            raise EpisodeError(f"{path}: episode {e} gives an item a class that is not its label in the dataset")
        out.append(idx)
    return out


class FixedEpisodes(torch.utils.data.Dataset):
    """Replays a saved episode set: ``fixed[i]`` is an :class:`Episode` (images gathered in one index)."""

    def __init__(self, dataset, episodes: str | Path | list[EpisodeIndex], transform: Callable | None = None) -> None:
        self.dataset = dataset
        self.indices = load_episodes(episodes, dataset) if isinstance(episodes, (str, Path)) else list(episodes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def index(self, i: int) -> EpisodeIndex:
        return self.indices[i]

    def __getitem__(self, i: int) -> Episode:
        return gather(self.dataset.images, self.indices[i], self.transform)


def summarise_file(path: str | Path) -> dict:
    """Episodes, ways, shots, queries and class frequencies of an episode CSV (no dataset needed)."""
    path = Path(path)
    if not path.is_file():
        raise EpisodeError(f"{path}: no such episode file")
    try:
        table = pd.read_csv(path, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:
        raise EpisodeError(f"{path}: not an episode CSV ({err})") from None
    if tuple(table.columns) != COLUMNS or len(table) == 0:
        raise EpisodeError(f"{path}: expected a non-empty CSV with columns {','.join(COLUMNS)}")
    sup = table[table["role"] == "support"]
    qry = table[table["role"] == "query"]
    ways = sup.groupby("episode")["class"].nunique()
    shots = sup.groupby(["episode", "class"]).size()
    queries = qry.groupby(["episode", "class"]).size()
    return {
        "episodes": int(table["episode"].nunique()),
        "n_way": int(ways.max()),
        "k_shot": int(shots.max()),
        "q_query": int(queries.max()) if len(queries) else 0,
        "items": int(table["item"].nunique()),
        "classes": sup.drop_duplicates(["episode", "class"])["class"].value_counts().to_dict(),
    }
