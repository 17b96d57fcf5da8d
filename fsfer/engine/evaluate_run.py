"""Evaluate a checkpoint on a fixed episode file or on seeded episodes of a protocol split."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


from fsfer.engine.build import resolve_device, resolve_protocol
from fsfer.engine.config import config_from_dict
from fsfer.engine.evaluate import EvalResult, evaluate
from fsfer.engine.predict import load_model
from fsfer.episodes.fixed import load_episodes
from fsfer.episodes.sampler import EpisodeSampler
from fsfer.errors import ConfigError
from fsfer.protocol_data import load_protocol_data
from fsfer.protocols import load_protocol
from fsfer.transforms import Normalise


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    data: Sequence[str] | None = None,
    protocol: str | None = None,
    split: str = "novel",
    episodes: str | int = 600,
    n_way: int | None = None,
    k_shot: int | None = None,
    q_query: int = 15,
    seed: int = 0,
    device: str = "auto",
    progress: bool = False,
) -> EvalResult:
    """Load the checkpoint's model and data; replay ``episodes`` (a CSV path) or draw that many seeded episodes."""
    dev = resolve_device(device)
    model, ckpt = load_model(checkpoint, dev)
    cfg = config_from_dict(ckpt["config"], str(checkpoint))
    proto = load_protocol(protocol) if protocol else resolve_protocol(cfg)
    specs = list(data) if data else list(cfg.data)
    pdata = load_protocol_data(proto, specs, int(ckpt["image_size"]), progress=progress)
    text = str(episodes)
    if text.isdigit():
        count = int(text)
        if count < 1:
            raise ConfigError("--episodes must be at least 1 (or an episode CSV file)")
        sampler = EpisodeSampler(
            pdata.store, pdata.classes(split), n_way or cfg.eval_way, k_shot or cfg.eval_shot, q_query, seed,
            episodes=count, indices=pdata.rows[split], allow_small=True,
        )
        indices = [sampler.index(i) for i in range(count)]
    else:
        indices = load_episodes(text, pdata.store)
        if not indices:
            raise ConfigError(f"{text}: holds no episode")
    normalise = Normalise(tuple(ckpt["normalise"]["mean"]), tuple(ckpt["normalise"]["std"]))
    return evaluate(model, pdata.store, indices, transform=normalise, device=dev, progress=progress)
