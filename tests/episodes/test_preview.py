"""The episode preview: only the drawn episode's images are decoded, and class names are drawn in full."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import ImageDraw

from fsfer.datasets.spec import read_many
from fsfer.episodes import EpisodeSampler, load_episodes, save_episodes
from fsfer.episodes.preview import draw_episode, load_episode
from fsfer.errors import ConfigError
from fsfer.store import from_tensors, index_dataset, load_dataset

SMALL = "synth?subjects=16,per_subject=1,size=32"


def _episode_file(tmp_path: Path, episodes: int = 3) -> Path:
    store = index_dataset(read_many([SMALL]))
    sampler = EpisodeSampler(store, None, 4, 2, 2, seed=3, episodes=episodes)
    out = tmp_path / "e.csv"
    save_episodes(out, store, (sampler.index(i) for i in range(episodes)))
    return out


def test_load_episode_holds_only_its_images_and_draws_as_the_whole_store(tmp_path: Path) -> None:
    path = _episode_file(tmp_path)
    full = load_dataset(read_many([SMALL]), 32)
    for e in range(3):
        store, index = load_episode(path, [SMALL], e, 32)
        assert len(store) == len(torch.cat([index.support, index.query]).unique()) <= 4 * (2 + 2)
        expected = draw_episode(full, load_episodes(path, full)[e])
        assert np.array_equal(np.asarray(draw_episode(store, index)), np.asarray(expected))


def test_load_episode_out_of_range(tmp_path: Path) -> None:
    path = _episode_file(tmp_path, episodes=2)
    with pytest.raises(ConfigError, match=r"--episode 5 is out of range 0\.\.1"):
        load_episode(path, [SMALL], 5, 32)




def test_class_names_are_drawn_in_full_left_of_the_images(drawn_texts: list) -> None:
    names = ["fearfully_surprised", "disgustedly_surprised", "awed"]
    labels = torch.arange(3).repeat_interleave(4)
    store = from_tensors(torch.zeros(12, 3, 8, 8, dtype=torch.uint8), labels, names)
    index = EpisodeSampler(store, None, 3, 1, 2, seed=0, episodes=1).index(0)
    texts = drawn_texts
    cell = 72
    sheet = draw_episode(store, index, cell=cell)
    drawn = "\n".join(t for _, t, _ in texts)
    for name in names:
        assert name in drawn.splitlines(), f"{name} is not drawn in full: {drawn!r}"
    tiles_start = sheet.width - cell * 2  # the widest row holds 2 queries
    measure = ImageDraw.Draw(sheet)
    for (x, _), text, font in texts:
        for line in text.splitlines():
            assert x + measure.textlength(line, font=font) <= tiles_start, f"{line!r} runs into the images"
