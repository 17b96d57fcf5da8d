"""Episodic training: the loop behind ``fsfer episode-train``.

The loop sums the weighted losses a method returns and never knows which method
it runs. Validation uses a fixed episode set of the protocol's validation split
(never the novel test classes); ``best.pt`` is chosen by validation accuracy and
``last.pt`` written every ``save_every`` episodes and at the end; the novel-class
test episodes are touched once, at the end, with the best checkpoint.

Files in the run folder: ``config.toml``, ``metrics.csv``, ``last.pt``, ``best.pt``,
``val_episodes.csv``, ``test_episodes.csv``, ``results.json``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fsfer import __version__ as fsfer_version
from fsfer.engine.build import build_model, build_optimizer, build_scheduler, resolve_device, resolve_protocol, resolved_config
from fsfer.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from fsfer.engine.config import RunConfig, config_from_dict
from fsfer.engine.distributed import DistInfo, all_mean, barrier, init_distributed, shutdown
from fsfer.engine.evaluate import EvalResult, evaluate
from fsfer.episodes.fixed import save_episodes
from fsfer.episodes.sampler import EpisodeIndex, EpisodeSampler, episode_generator, gather
from fsfer.errors import ConfigError, EpisodeError, TrainingError
from fsfer.protocol_data import ProtocolData, load_protocol_data
from fsfer.transforms import Normalise, random_flip

RUN_FILES = ("config.toml", "metrics.csv", "last.pt", "best.pt", "val_episodes.csv", "test_episodes.csv", "results.json")
METRIC_COLUMNS = ["episode", "phase", "loss", "accuracy", "ci95", "lr"]


@dataclass
class TrainResult:
    out: Path
    episodes: int
    best_val: float
    test: EvalResult | None
    #: whether the run's episodes kept each class's support subjects out of its query
    disjoint_subjects: bool = False


def check_out_dir(out: Path, resume: bool, force: bool) -> None:
    """Refuse a folder holding another run unless resuming or forcing; resuming needs ``last.pt``."""
    held = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if not (out / "last.pt").is_file():
            raise ConfigError(f"{out}: nothing to resume (no last.pt); drop --resume to start a new run")
        return
    if held and not force:
        raise ConfigError(
            f"{out}: holds another run ({', '.join(held)}); pass --resume to continue it, "
            "--force to replace it, or choose another --out"
        )


@dataclass
class EpisodeSets:
    """The training sampler (base rows) and the fixed validation and test episode sets of a run."""

    train: EpisodeSampler
    val: list[EpisodeIndex]
    test: list[EpisodeIndex]
    #: whether every sampler keeps each class's support subjects out of its query
    disjoint_subjects: bool


def make_episode_sets(cfg: RunConfig, pdata: ProtocolData) -> EpisodeSets:
    """The training sampler and the fixed validation and test sets, subject-disjoint unless ``cfg`` says not.

    An EpisodeError from a sampler is re-raised naming the set and the option that shapes it.
    """
    store, rows = pdata.store, pdata.rows
    n_novel = len(pdata.classes("novel"))
    if cfg.eval_way > n_novel:
        raise ConfigError(
            f"test_way = {cfg.eval_way} is larger than the {n_novel} novel classes of protocol {pdata.protocol.name} "
            f"({', '.join(pdata.classes('novel'))}); pass --test-way {n_novel} (test_way in a config)"
        )

    def sampler(what: str, part: str, way: int, shot: int, query: int, seed: int, count: int, options: str,
                draw: bool) -> tuple[EpisodeSampler, list[EpisodeIndex]]:
        """One set's sampler (and its episodes when ``draw``), errors naming the set and its options."""
        try:
            made = EpisodeSampler(store, pdata.classes(part), way, shot, query, seed, episodes=count, indices=rows[part],
                                  allow_small=cfg.allow_small, disjoint_subjects=cfg.disjoint_subjects)
            return made, [made.index(i) for i in range(count)] if draw else []
        except EpisodeError as err:
            raise EpisodeError(f"{what} episodes ({part} split, {way}-way {shot}-shot {query}-query; {options}): {err}") from None

    train, _ = sampler("training", "base", cfg.n_way, cfg.k_shot, cfg.q_query, cfg.seed, cfg.episodes,
                       "--n-way/--k-shot/--q-query", draw=False)
    val, val_set = sampler("validation", "val", min(cfg.eval_way, len(pdata.classes("val"))), cfg.eval_shot,
                           cfg.test_query, cfg.seed + 1, cfg.val_episodes, "--test-shot/--test-query", draw=True)
    test, test_set = sampler("test", "novel", cfg.eval_way, cfg.eval_shot, cfg.test_query, cfg.seed + 2,
                             cfg.test_episodes, "--test-way/--test-shot/--test-query", draw=True)
    return EpisodeSets(train, val_set, test_set, train.disjoint and val.disjoint and test.disjoint)


class MetricsLog:
    """``metrics.csv``: one row per training episode and per validation; truncated to the resumed episode."""

    def __init__(self, path: Path, loss_names: list[str], resume_from: int | None) -> None:
        self.path = path
        self.columns = METRIC_COLUMNS + [f"loss_{n}" for n in loss_names]
        kept: list[dict[str, str]] = []
        if resume_from is not None and path.is_file():
            with path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                self.columns = list(reader.fieldnames or self.columns)
                kept = [r for r in reader if int(r["episode"]) <= resume_from]
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, path)
        self.fh = path.open("a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=self.columns, extrasaction="ignore", restval="")

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def train(
    cfg: RunConfig,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    stop_after: int | None = None,
) -> TrainResult:
    """Train ``cfg``'s method on its protocol's base classes, validate, then test on the novel classes.

    Everything that can be wrong with the input is checked before anything is written.
    ``stop_after`` ends the run after that many episodes as if it were killed (tests use it).
    """
    cfg = resolved_config(cfg)
    cfg.validate()
    out = Path(cfg.default_out())
    check_out_dir(out, resume, force)
    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(out / "last.pt")
        saved = config_from_dict(checkpoint["config"], f"{out / 'last.pt'}")
        cfg = config_from_dict({"episodes": cfg.episodes, "device": cfg.device}, "resume", base=saved)
        cfg.out = str(out)
    device = resolve_device(cfg.device)
    dist_info = init_distributed(device.type)
    try:
        return _train(cfg, out, device, dist_info, checkpoint, force, progress, stop_after)
    finally:
        shutdown(dist_info)


def _train(
    cfg: RunConfig,
    out: Path,
    device: torch.device,
    info: DistInfo,
    checkpoint: dict[str, Any] | None,
    force: bool,
    progress: bool,
    stop_after: int | None,
) -> TrainResult:
    from tqdm.auto import tqdm

    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    wall_start = time.perf_counter()
    protocol = resolve_protocol(cfg)
    index = load_protocol_data(protocol, cfg.data, decode=False, require_subjects=bool(cfg.disjoint_subjects))
    make_episode_sets(cfg, index)  # every episode-shape error before the first image is decoded
    pdata = index.decoded(cfg.image_size, progress=progress and info.is_main)
    sets = make_episode_sets(cfg, pdata)
    train_sampler, val_set, test_set = sets.train, sets.val, sets.test
    if cfg.disjoint_subjects is None:  # the config saved and checkpointed says what "auto" became
        cfg = config_from_dict({"disjoint_subjects": sets.disjoint_subjects}, "auto", base=cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
    scheduler = build_scheduler(cfg, optimizer)
    store = pdata.store.to(device) if (cfg.store_on_device and device.type == "cuda") else pdata.store
    normalise = Normalise()
    amp = cfg.amp and device.type == "cuda"

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    start, best_val = 0, -1.0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start, best_val = int(checkpoint["episode"]), float(checkpoint["best_val"])
    # nothing has been written so far; from here on the run folder is ours
    if info.is_main:
        if force and checkpoint is None and out.exists():
            for name in RUN_FILES:
                (out / name).unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        if checkpoint is None:
            (out / "config.toml").write_text(cfg.to_toml(out / "config.toml"))
            save_episodes(out / "val_episodes.csv", pdata.store, val_set)
            save_episodes(out / "test_episodes.csv", pdata.store, test_set)
    if checkpoint is not None:
        set_rng_state(checkpoint["rng"])
    net = model
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=cfg.method in ("maml", "anil")
        )

    def payload(episode: int) -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            "episode": episode,
            "best_val": best_val,
            "config": cfg.to_dict(),
            "classes": list(pdata.store.classes),
            "image_size": cfg.image_size,
            "world_size": info.world_size,
            "normalise": {"mean": list(normalise.mean), "std": list(normalise.std)},
        }

    log: MetricsLog | None = None
    bar = tqdm(total=cfg.episodes, initial=start, desc="episode-train", unit="ep", disable=not (progress and info.is_main))
    t0, done_here = time.perf_counter(), 0
    model.train()
    try:
        for episode in range(start, cfg.episodes):
            if stop_after is not None and episode >= stop_after:
                break
            index = train_sampler.index(episode * info.world_size + info.rank)
            batch = gather(store.images, index).to(device, non_blocking=True)
            if cfg.augment:
                g = episode_generator(cfg.seed + 104729, episode * info.world_size + info.rank)
                batch = batch.map_images(lambda x: random_flip(x, g))
            batch = batch.map_images(normalise)
            if cfg.channels_last:
                batch = batch.map_images(lambda x: x.contiguous(memory_format=torch.channels_last))
            with autocast():
                logits, losses = net(batch)
                loss = sum(losses.values())
            accuracy = (logits.argmax(dim=1) == batch.query_labels).float().mean()
            stats = torch.stack([loss.detach().float(), accuracy.float(), torch.isfinite(loss).float()])
            stats = all_mean(stats if device.type == "cuda" and info.enabled else stats.cpu(), info).cpu()
            if float(stats[2]) < 1.0:
                raise TrainingError(
                    f"episode {episode + 1}: the loss is {float(loss.detach())} (not finite); stopped, keeping the last good "
                    f"checkpoint {out / 'last.pt'}; lower --lr or set --grad-clip"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            number = episode + 1
            done_here += 1
            if info.is_main:
                if log is None:
                    log = MetricsLog(out / "metrics.csv", sorted(losses), start if checkpoint is not None else None)
                log.write({"episode": number, "phase": "train", "loss": float(stats[0]), "accuracy": float(stats[1]), "lr": lr,
                           **{f"loss_{k}": float(v.detach()) for k, v in losses.items()}})
                rate = done_here / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{float(stats[0]):.3f}", acc=f"{float(stats[1]):.2f}", eps=f"{rate:.1f}/s", refresh=False)
                bar.update(1)
                if number % cfg.val_every == 0 or number == cfg.episodes:
                    val = evaluate(model, store, val_set, transform=normalise, device=device, autocast=autocast)
                    log.write({"episode": number, "phase": "val", "accuracy": val.accuracy, "ci95": val.ci95})
                    if val.accuracy > best_val:
                        best_val = val.accuracy
                        save_checkpoint(out / "best.pt", payload(number))
                if number % cfg.save_every == 0 or number == cfg.episodes:
                    save_checkpoint(out / "last.pt", payload(number))
            barrier(info)
    finally:
        bar.close()
        if log is not None:
            log.close()
    finished = stop_after is None or stop_after >= cfg.episodes
    test = None
    if finished and info.is_main:
        best = load_checkpoint(out / "best.pt") if (out / "best.pt").is_file() else None
        if best is not None:
            model.load_state_dict(best["model"])
        test = evaluate(model, store, test_set, transform=normalise, device=device, autocast=autocast, progress=progress)
        summary = {"protocol": protocol.name, "method": cfg.method, "backbone": cfg.backbone, "split": "novel",
                   "best_val_accuracy": best_val, "checkpoint": str(out / "best.pt"),
                   "fsfer_version": fsfer_version, "torch_version": torch.__version__, "seed": cfg.seed,
                   "wall_seconds": round(time.perf_counter() - wall_start, 3), "disjoint_subjects": sets.disjoint_subjects,
                   "test_episodes_file": str(out / "test_episodes.csv"), **test.to_json()}
        (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    barrier(info)
    return TrainResult(out=out, episodes=cfg.episodes, best_val=best_val, test=test, disjoint_subjects=sets.disjoint_subjects)
