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

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from fsfer.engine.build import build_model, build_optimizer, build_scheduler, resolve_protocol
from fsfer.engine.checkpoint import check_backbone, embedder_state, load_checkpoint, load_embedder, save_checkpoint, set_rng_state
from fsfer.engine.config import RunConfig, config_from_dict
from fsfer.engine.distributed import DistInfo, all_mean, barrier, local_device
from fsfer.engine.evaluate import EvalResult, evaluate
from fsfer.engine.run import (
    TENSORBOARD_DIR, MetricsLog, autocast_for, execute, claim_run_folder, interrupted, restore, run_facts, run_payload, start_run,
    validate_and_save, write_results,
)
from fsfer.engine.signals import StopSignals
from fsfer.episodes.sampler import EpisodeIndex, EpisodeSampler, episode_generator, gather
from fsfer.errors import ConfigError, EpisodeError, TrainingError
from fsfer.protocol_data import ProtocolData, load_protocol_data
from fsfer.transforms import Normalise, random_flip

@dataclass
class TrainResult:
    out: Path
    episodes: int
    best_val: float
    test: EvalResult | None
    #: whether the run's episodes kept each class's support subjects out of its query
    disjoint_subjects: bool = False
    #: things the user should know about the run's episodes (e.g. queries smaller than asked)
    notes: list[str] = field(default_factory=list)


def init_state(cfg: RunConfig) -> dict[str, torch.Tensor] | None:
    """The embedder tensors of ``cfg.init`` (an fsfer checkpoint of the same backbone), or None without one."""
    if not cfg.init:
        return None
    checkpoint = load_checkpoint(cfg.init)
    check_backbone(checkpoint, cfg.backbone, cfg.init, f"pass --backbone {checkpoint.get('config', {}).get('backbone')} "
                   "(or --init a checkpoint of this backbone)")
    return embedder_state(checkpoint)


@dataclass
class EpisodeSets:
    """The training sampler (base rows) and the fixed validation and test episode sets of a run."""

    train: EpisodeSampler | None
    val: list[EpisodeIndex]
    test: list[EpisodeIndex]
    #: whether every sampler keeps each class's support subjects out of its query
    disjoint_subjects: bool
    #: notes on the fixed sets (see :func:`short_query_note`)
    notes: list[str] = field(default_factory=list)


def short_query_note(what: str, episodes: list[EpisodeIndex], q_query: int, classes: list[str]) -> str | None:
    """A note when some of ``episodes`` give a class fewer than ``q_query`` queries (``allow_small``), else None."""
    short: dict[int, int] = {}
    hit = 0
    for e in episodes:
        counts = torch.bincount(e.query_labels, minlength=int(e.classes.numel()))
        low = (counts < q_query).nonzero().flatten()
        hit += bool(low.numel())
        for way in low.tolist():
            cls = int(e.classes[way])
            short[cls] = min(short.get(cls, q_query), int(counts[way]))
    if not hit:
        return None
    names = ", ".join(f"{classes[c]} ({n})" for c, n in sorted(short.items(), key=lambda kv: kv[1])[:4])
    return (f"{hit} of {len(episodes)} {what} episodes have fewer than {q_query} queries for a class "
            f"(allow_small; fewest per class: {names}{', ...' if len(short) > 4 else ''})")


def make_episode_sets(cfg: RunConfig, pdata: ProtocolData, training: bool = True) -> EpisodeSets:
    """The training sampler and the fixed validation and test sets, subject-disjoint unless ``cfg`` says not.

    ``training=False`` (pretraining, which draws no training episodes) makes no training sampler.
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

    train = None
    if training:
        train, _ = sampler("training", "base", cfg.n_way, cfg.k_shot, cfg.q_query, cfg.seed, cfg.episodes,
                           "--n-way/--k-shot/--q-query", draw=False)
    val, val_set = sampler("validation", "val", min(cfg.eval_way, len(pdata.classes("val"))), cfg.eval_shot,
                           cfg.test_query, cfg.seed + 1, cfg.val_episodes, "--test-shot/--test-query", draw=True)
    test, test_set = sampler("test", "novel", cfg.eval_way, cfg.eval_shot, cfg.test_query, cfg.seed + 2,
                             cfg.test_episodes, "--test-way/--test-shot/--test-query", draw=True)
    notes = [n for n in (short_query_note("validation", val_set, cfg.test_query, store.classes),
                         short_query_note("test", test_set, cfg.test_query, store.classes)) if n]
    return EpisodeSets(train, val_set, test_set, (train is None or train.disjoint) and val.disjoint and test.disjoint,
                       notes)


@dataclass
class RunData:
    """A run's decoded protocol data and episode sets, and its config with "auto" resolved."""

    cfg: RunConfig
    protocol: Any
    pdata: ProtocolData
    sets: EpisodeSets


def load_run_data(cfg: RunConfig, progress: bool, training: bool = True,
                  check: Callable[[ProtocolData], None] | None = None) -> RunData:
    """Index the data, check every episode shape (and ``check(index)``) before any image is decoded, then decode
    and draw the fixed sets; ``disjoint_subjects = "auto"`` becomes what the episodes are."""
    protocol = resolve_protocol(cfg)
    index = load_protocol_data(protocol, cfg.data, decode=False, require_subjects=bool(cfg.disjoint_subjects))
    make_episode_sets(cfg, index, training)
    if check is not None:
        check(index)
    pdata = index.decoded(cfg.image_size, progress=progress)
    sets = make_episode_sets(cfg, pdata, training)
    if cfg.disjoint_subjects is None:  # the config saved and checkpointed says what "auto" became
        cfg = config_from_dict({"disjoint_subjects": sets.disjoint_subjects}, "auto", base=cfg)
    return RunData(cfg, protocol, pdata, sets)


def train(
    cfg: RunConfig,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    stop_after: int | None = None,
    changes: dict[str, Any] | None = None,
    report: bool = False,
) -> TrainResult:
    """Train ``cfg``'s method on its protocol's base classes, validate, then test on the novel classes.

    Everything that can be wrong with the input is checked before anything is written.
    On ``resume`` the run's own config applies, with ``changes`` (the options given with
    ``--resume``: its length, device, ...; see :func:`fsfer.engine.run.start_run`).
    SIGINT or SIGTERM saves ``last.pt`` at the current episode and raises
    :class:`~fsfer.errors.Interrupted`.
    ``cfg.init`` (an fsfer checkpoint) starts the embedder from its weights.
    ``report`` writes the run's pictures and ``report.md`` at the end (:func:`fsfer.report.write_report`).
    ``stop_after`` ends the run after that many episodes as if it were killed (tests use it).
    """
    start = start_run(cfg, "episode-train", resume, force, changes)
    cfg, out, checkpoint = start.cfg, start.out, start.checkpoint
    init = init_state(cfg) if checkpoint is None else None
    return execute(cfg, out, report,
                   lambda device, info: _train(cfg, out, device, info, checkpoint, init, force, progress, stop_after))


def _train(
    cfg: RunConfig,
    out: Path,
    device: torch.device,
    info: DistInfo,
    checkpoint: dict[str, Any] | None,
    init: dict[str, torch.Tensor] | None,
    force: bool,
    progress: bool,
    stop_after: int | None,
) -> TrainResult:
    from tqdm.auto import tqdm

    device = local_device(device, info)
    wall_start = time.perf_counter()
    run_data = load_run_data(cfg, progress and info.is_main)
    cfg, protocol, pdata, sets = run_data.cfg, run_data.protocol, run_data.pdata, run_data.sets
    train_sampler, val_set, test_set = sets.train, sets.val, sets.test
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    if init is not None:
        load_embedder(model.embedder, init, cfg.init)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
    scheduler = build_scheduler(cfg, optimizer)
    store = pdata.store.to(device) if (cfg.store_on_device and device.type == "cuda") else pdata.store
    normalise = Normalise()
    autocast = autocast_for(cfg.amp and device.type == "cuda")
    start, best_val = 0, -1.0
    if checkpoint is not None:
        start, best_val = restore(checkpoint, model, optimizer, scheduler)
    # nothing has been written so far; from here on the run folder is ours
    if info.is_main:
        claim_run_folder(out, cfg, "episode-train", force, checkpoint is None, pdata.store, val_set, test_set)
    if checkpoint is not None:
        set_rng_state(checkpoint["rng"])
    net = model
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=cfg.method in ("maml", "anil")
        )

    def payload(episode: int, best: float) -> dict[str, Any]:
        return run_payload("episode-train", model, optimizer, scheduler, episode, best, cfg, pdata.store.classes,
                           info.world_size, normalise)

    log: MetricsLog | None = None
    bar = tqdm(total=cfg.episodes, initial=start, desc="episode-train", unit="ep", disable=not (progress and info.is_main))
    t0, done_here = time.perf_counter(), 0
    model.train()
    signals = StopSignals()
    try:
        signals.install()
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
            asked = torch.tensor(float(signals.received is not None), device=loss.device)  # any rank's signal stops all
            stats = torch.stack([loss.detach().float(), accuracy.float(), torch.isfinite(loss).float(), asked])
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
                    log = MetricsLog(out / "metrics.csv", sorted(losses), start if checkpoint is not None else None,
                                     tensorboard=out / TENSORBOARD_DIR if cfg.tensorboard else None)
                log.write({"episode": number, "phase": "train", "loss": float(stats[0]), "accuracy": float(stats[1]), "lr": lr,
                           **{f"loss_{k}": float(v.detach()) for k, v in losses.items()}})
                rate = done_here / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{float(stats[0]):.3f}", acc=f"{float(stats[1]):.2f}", eps=f"{rate:.1f}/s", refresh=False)
                bar.update(1)
                best_val = validate_and_save(
                    number, cfg.episodes, cfg, log,
                    lambda: evaluate(model, store, val_set, transform=normalise, device=device, autocast=autocast),
                    payload, out, best_val)
            if float(stats[3]) > 0 or (not info.enabled and signals.received is not None):
                if info.is_main:
                    save_checkpoint(out / "last.pt", payload(number, best_val))
                barrier(info)
                raise interrupted("episode-train", out, signals.received or "a signal on another rank",
                                  f"after episode {number}")
            barrier(info)
    finally:
        signals.restore()
        bar.close()
        if log is not None:
            log.close()
    loop_seconds = time.perf_counter() - t0
    finished = stop_after is None or stop_after >= cfg.episodes
    test = None
    if finished and info.is_main:
        best = load_checkpoint(out / "best.pt") if (out / "best.pt").is_file() else None
        if best is not None:
            model.load_state_dict(best["model"])
        test = evaluate(model, store, test_set, transform=normalise, device=device, autocast=autocast, progress=progress)
        write_results(out, {"protocol": protocol.name, "method": cfg.method, "backbone": cfg.backbone, "split": "novel",
                            "best_val_accuracy": best_val, "checkpoint": str(out / "best.pt"), "init": cfg.init or None,
                            **run_facts(cfg, time.perf_counter() - wall_start, sets.disjoint_subjects, out),
                            "train_episodes_per_second": round(done_here / max(loop_seconds, 1e-9), 3),
                            **test.to_json()})
    barrier(info)
    return TrainResult(out=out, episodes=cfg.episodes, best_val=best_val, test=test, disjoint_subjects=sets.disjoint_subjects,
                       notes=sets.notes)
