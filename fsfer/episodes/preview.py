"""Draw one episode: its support row and its query grid, with class names.

:func:`load_episode` reads one episode of an episode CSV and decodes only its images
(for SynthFER: renders only them), so a preview costs an episode, not a dataset.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from fsfer.datasets.spec import read_many
from fsfer.episodes.fixed import load_episodes
from fsfer.episodes.sampler import EpisodeIndex
from fsfer.errors import ConfigError
from fsfer.store import ImageStore, index_dataset, load_dataset

#: Space between a label's text and the images, and at the sheet's left edge (pixels).
LABEL_MARGIN = 4


def load_episode(
    path: str | Path, specs: Sequence[str], episode: int, image_size: int = 64, *, progress: bool = False
) -> tuple[ImageStore, EpisodeIndex]:
    """``(store, index)``: episode ``episode`` (0-based, in file order) of an episode CSV, read from ``specs``.

    Only the episode's images are decoded (SynthFER renders only them); the whole file
    is still resolved against the data's records and checked, as :func:`load_episodes`
    does. ``store.classes`` is the data's class list, so ``index.classes`` keeps its ids;
    ``index``'s rows point into ``store``. An image that cannot be decoded is a DataError.
    """
    path = Path(path)
    records = read_many(list(specs))
    labels_only = index_dataset(records)
    indices = load_episodes(path, labels_only)  # labels only: nothing is decoded here
    if not 0 <= episode < len(indices):
        raise ConfigError(
            f"{path}: --episode {episode} is out of range 0..{len(indices) - 1} (the file holds {len(indices)} episodes)"
        )
    index = indices[episode]
    rows = torch.cat([index.support, index.query]).unique()  # sorted
    picked = records.iloc[rows.numpy()].reset_index(drop=True)
    picked.attrs = dict(records.attrs)
    store = load_dataset(picked, image_size, classes=labels_only.classes, strict=True, progress=progress)
    local = EpisodeIndex(
        support=torch.searchsorted(rows, index.support),
        query=torch.searchsorted(rows, index.query),
        support_labels=index.support_labels,
        query_labels=index.query_labels,
        classes=index.classes,
    )
    return store, local


def draw_episode(dataset, index: EpisodeIndex, cell: int = 72, label: int = 12) -> Image.Image:
    """A PNG-ready picture: row 0 the support (one column per shot, ways side by side), then the queries by way.

    Each row is labelled ``support``/``query`` over the full class name; the label column
    is as wide as the longest name needs (at least one ``cell``).
    """
    images = dataset.images
    names = [dataset.classes[c] for c in index.classes.tolist()]
    n_way = len(names)
    shots = [index.support[index.support_labels == w] for w in range(n_way)]
    queries = [index.query[index.query_labels == w] for w in range(n_way)]
    cols = max(max(len(s) for s in shots), max((len(q) for q in queries), default=0), 1)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    longest = max(measure.textlength(text) for text in ("support", "query", *names))
    label_width = max(cell, LABEL_MARGIN + math.ceil(longest) + LABEL_MARGIN)
    sheet = Image.new("RGB", (label_width + cell * cols, (cell + label) * 2 * n_way), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for title, groups in (("support", shots), ("query", queries)):
        for w, group in enumerate(groups):
            draw.text((LABEL_MARGIN, y + cell // 2), f"{title}\n{names[w]}", fill="black")
            for j, row in enumerate(group.tolist()):
                tile = Image.fromarray(np.ascontiguousarray(images[row].cpu().numpy().transpose(1, 2, 0)))
                sheet.paste(tile.resize((cell - 4, cell - 4)), (label_width + cell * j + 2, y + 2))
            y += cell + label
    return sheet.crop((0, 0, sheet.width, y))
