"""Evaluate a checkpoint on a fixed episode file or on seeded episodes of a protocol split.

Three ways, in the order ``fsfer evaluate`` tries them:

- ``episodes`` is a CSV file: replay it over the given data (``--data``), else the
  run's own; no protocol is involved, only the file's items are decoded, so a file
  made on one dataset replays with a model trained on another (transfer).
- ``episodes`` is None and nothing asks for a fresh draw: replay the run's own
  ``test_episodes.csv`` beside the checkpoint, which reproduces its ``results.json``.
- otherwise draw ``episodes`` (a count, 600 by default) seeded episodes from a split
  of the protocol, subject-disjoint whenever every image has a subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fsfer.datasets.spec import read_many
from fsfer.engine.build import resolve_device, resolve_protocol
from fsfer.engine.checkpoint import checkpoint_normalise, checkpoint_path
from fsfer.engine.config import RunConfig, config_from_dict
from fsfer.engine.evaluate import EvalResult, evaluate
from fsfer.engine.predict import load_model
from fsfer.engine.compose import evaluate_composed
from fsfer.episodes.fixed import episode_items, item_keys, load_episodes, read_episode_table
from fsfer.models.methods.compose import WEIGHTINGS, check_composable, components
from fsfer.episodes.sampler import EpisodeSampler
from fsfer.episodes.subjects import disjoint_flag
from fsfer.errors import ConfigError, EpisodeError
from fsfer.models.registry import all_methods
from fsfer.protocol_data import load_protocol_data
from fsfer.protocols import PARTS, load_protocol
from fsfer.store import load_dataset

DEFAULT_DRAWN = 600
RUN_TEST_FILE = "test_episodes.csv"


@dataclass
class CheckpointEvaluation:
    """An :class:`EvalResult` and where its episodes came from."""

    result: EvalResult
    #: the episode CSV replayed, or None for freshly drawn episodes
    episodes_file: str | None
    #: whether every episode kept each class's support subjects out of its query
    disjoint_subjects: bool
    #: with --compose: the ordinary K-shot result on the same episodes (``result`` is then the composed one)
    ordinary: EvalResult | None = None
    compose_weights: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {**self.result.to_json(), "disjoint_subjects": self.disjoint_subjects, "episodes_file": self.episodes_file}
        if self.ordinary is not None:
            out.update(compose=True, compose_weights=self.compose_weights,
                       ordinary={"accuracy": self.ordinary.accuracy, "ci95": self.ordinary.ci95,
                                 "k_shot": self.ordinary.k_shot})
        return out


def replay_store(path: Path, specs: Sequence[str], image_size: int, progress: bool = False):
    """A store of the images an episode file names, read from ``specs`` (no protocol needed)."""
    items = episode_items(path)
    records = read_many(list(specs))
    attrs = dict(records.attrs)
    picked = records[np.isin(item_keys(records), list(items))].reset_index(drop=True)
    picked.attrs = attrs
    if picked.empty:
        raise EpisodeError(
            f"{path}: none of its items is in {' + '.join(specs)}; pass the --data the file was made from"
        )
    return load_dataset(picked, image_size, progress=progress)


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    data: Sequence[str] | None = None,
    protocol: str | None = None,
    split: str | None = None,
    episodes: str | int | None = None,
    n_way: int | None = None,
    k_shot: int | None = None,
    q_query: int | None = None,
    seed: int | None = None,
    disjoint_subjects: bool | None = None,
    allow_small: bool | None = None,
    method: str | None = None,
    compose: bool = False,
    compose_weights: str = "mean",
    device: str = "auto",
    progress: bool = False,
) -> CheckpointEvaluation:
    """Evaluate a checkpoint (see the module docstring for which episodes); options are checked before any data is read.

    ``method`` scores the checkpoint's embedder with another head (a pretraining run's
    embedder with protonet, cosine or simpleshot; see :func:`fsfer.engine.predict.load_model`).
    ``compose`` scores the same queries against compound classes composed from basic-emotion
    images only (:mod:`fsfer.engine.compose`), beside the ordinary K-shot result.
    """
    checkpoint = checkpoint_path(checkpoint)
    text = None if episodes is None else str(episodes)
    if split is not None and split not in PARTS:
        raise ConfigError(f"--split {split!r}: use one of {', '.join(PARTS)}")
    drawing = any(v is not None for v in (protocol, split, n_way, k_shot, q_query, seed, disjoint_subjects, allow_small))
    run_file = checkpoint.parent / RUN_TEST_FILE
    if text is None and not drawing and data is None and run_file.is_file():
        text = str(run_file)
    if text is not None and not text.isdigit():
        clash = [o for o, v in (("--protocol", protocol), ("--split", split), ("--n-way", n_way), ("--k-shot", k_shot),
                                ("--q-query", q_query), ("--seed", seed), ("--disjoint-subjects", disjoint_subjects),
                                ("--allow-small", allow_small)) if v is not None]
        if clash:
            raise ConfigError(f"{clash[0]} draws episodes; an episode file ({text}) fixes them already: drop one of the two")
    count = DEFAULT_DRAWN if text is None else int(text) if text.isdigit() else None
    if count is not None and count < 1:
        raise ConfigError("--episodes must be at least 1 (or an episode CSV file)")
    dev = resolve_device(device)
    if method is not None and method not in all_methods():
        raise ConfigError(f"--method {method!r}: use one of {', '.join(all_methods())}")
    if compose_weights not in WEIGHTINGS:
        raise ConfigError(f"--compose-weights {compose_weights!r}: use one of {', '.join(WEIGHTINGS)}")
    model, ckpt = load_model(checkpoint, dev, method)
    cfg = config_from_dict(ckpt["config"], str(checkpoint)).with_setting()
    normalise = checkpoint_normalise(ckpt)
    size = int(ckpt["image_size"])
    if compose:
        check_composable(model)
        if count is None:
            components(sorted(set(read_episode_table(Path(text))["class"])))
    if count is None and not compose:
        path = Path(text)
        specs = list(data) if data else _run_specs(cfg)
        store = replay_store(path, specs, size, progress=progress)
        indices = load_episodes(path, store)
        result = evaluate(model, store, indices, transform=normalise, device=dev, progress=progress)
        return CheckpointEvaluation(result, str(path), disjoint_flag(store, indices))
    proto = load_protocol(protocol) if protocol else resolve_protocol(cfg)
    part = split or "novel"
    if compose and count is not None:
        components(proto.classes(part))  # classes without known components: an error before any data is read
    index = load_protocol_data(proto, list(data) if data else list(cfg.data), decode=False,
                               require_subjects=disjoint_subjects is True)
    if count is None:  # --compose on an episode file: its episodes over the protocol's data (basic rows too)
        pdata = index.decoded(size, progress=progress)
        indices = load_episodes(Path(text), pdata.store)
        return _composed(model, pdata, indices, normalise, dev, compose_weights, text, disjoint_flag(pdata.store, indices),
                         progress)

    def draw(pdata):
        return EpisodeSampler(
            pdata.store, pdata.classes(part), n_way or cfg.eval_way, k_shot or cfg.eval_shot,
            q_query or cfg.test_query, 0 if seed is None else seed, episodes=count, indices=pdata.rows[part],
            allow_small=cfg.allow_small if allow_small is None else allow_small, disjoint_subjects=disjoint_subjects,
        )

    draw(index)  # shape and subject errors before any image is decoded
    pdata = index.decoded(size, progress=progress)
    sampler = draw(pdata)
    indices = [sampler.index(i) for i in range(count)]
    if compose:
        return _composed(model, pdata, indices, normalise, dev, compose_weights, None, sampler.disjoint, progress,
                         0 if seed is None else seed)
    result = evaluate(model, pdata.store, indices, transform=normalise, device=dev, progress=progress)
    return CheckpointEvaluation(result, None, sampler.disjoint)


def _composed(model, pdata, indices, normalise, device, weighting: str, episodes_file: str | None, disjoint: bool,
              progress: bool, seed: int = 0) -> CheckpointEvaluation:
    """The composed result (support: basic images of the protocol's base rows) and the ordinary one, same queries."""
    ordinary = evaluate(model, pdata.store, indices, transform=normalise, device=device, progress=progress)
    composed = evaluate_composed(model, pdata.store, indices, pdata.rows["base"], transform=normalise, device=device,
                                 weighting=weighting, seed=seed)
    return CheckpointEvaluation(composed, episodes_file, disjoint, ordinary=ordinary, compose_weights=weighting)


def _run_specs(cfg: RunConfig) -> list[str]:
    """The data a run was trained on: its ``data``, else its protocol's default data."""
    if cfg.data:
        return list(cfg.data)
    default = list(resolve_protocol(cfg).default_data)
    if not default:
        raise ConfigError("the checkpoint's run names no data: pass --data FORMAT:ROOT")
    return default
