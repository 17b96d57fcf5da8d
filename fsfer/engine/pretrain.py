"""Classifier pretraining: the loop behind ``fsfer pretrain``.

An embedder is trained as an ordinary classifier of a protocol's base classes
(:class:`~fsfer.models.classifier.PretrainClassifier`: cross-entropy, plus the
backbone's own auxiliary losses) on batches of base rows only (never a val or novel
row), gathered from the image store as uint8 rows and augmented on the device (random
crop, flip, colour jitter), with no per-image Python and no decode after the first
load. After every ``val_every`` epochs the frozen embedder is scored with a metric head
(``method``: protonet, cosine or simpleshot) on the protocol's fixed validation
episodes, which choose ``best.pt``; at the end the best embedder's base-class mean
feature (SimpleShot's centre) joins ``best.pt`` and the novel-class test episodes are
scored once.

The run folder, config, checkpoints, resume and torch.distributed set-up are those of
``fsfer episode-train`` (:mod:`fsfer.engine.run`); a step is an epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fsfer.engine.build import build_head, build_optimizer, build_scheduler, pretrain_embedder, resolve_protocol
from fsfer.engine.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from fsfer.engine.config import PRETRAIN_DEFAULTS, PRETRAIN_HEADS, RunConfig, config_from_dict
from fsfer.engine.distributed import DistInfo, all_mean, barrier, local_device
from fsfer.engine.evaluate import EvalResult, embed_rows, evaluate
from fsfer.engine.run import (
    TENSORBOARD_DIR, MetricsLog, autocast_for, execute, claim_run_folder, interrupted, restore, run_facts, run_payload, start_run,
    validate_and_save, write_results,
)
from fsfer.engine.signals import StopSignals
from fsfer.engine.train import load_run_data
from fsfer.episodes.sampler import episode_generator
from fsfer.errors import ConfigError, TrainingError
from fsfer.models.classifier import PretrainClassifier
from fsfer.protocol_data import ProtocolData
from fsfer.transforms import Normalise, augment_batch

#: Seed offset of the augmentation stream (the batch order uses ``seed`` itself).
AUGMENT_STREAM = 7919


def pretrain_config(**options: Any) -> RunConfig:
    """A RunConfig with pretraining's defaults (:data:`PRETRAIN_DEFAULTS`), then ``options``."""
    return config_from_dict(options, "options", base=RunConfig(**PRETRAIN_DEFAULTS))


@dataclass
class PretrainResult:
    out: Path
    epochs: int
    best_val: float
    test: EvalResult | None
    disjoint_subjects: bool = False
    #: the metric head of the validation and test episodes
    head: str = "protonet"
    notes: list[str] = field(default_factory=list)


@dataclass
class BaseBatches:
    """The batches of one process, epoch by epoch: store rows of the base part only.

    ``rows`` ``[n]`` are store rows, ``targets`` ``[n]`` their base-class ids. Each epoch
    is a seeded permutation of the rows (``balanced``: a class-balanced draw with
    replacement, every class equally likely, of the same size), cut into ``steps()``
    global batches of ``batch_size * world_size`` rows (the last partial one dropped;
    a part smaller than one global batch gives one batch of all its rows); the process
    of rank ``r`` takes the ``r``-th slice of each. Epoch ``e`` depends only on ``(seed, e)``.
    """

    rows: np.ndarray
    targets: np.ndarray
    batch_size: int
    seed: int
    balanced: bool = False
    world_size: int = 1
    rank: int = 0

    def __post_init__(self) -> None:
        if len(self.rows) < self.world_size:
            raise ConfigError(f"pretraining: {len(self.rows)} base images cannot be shared among {self.world_size} processes")

    def global_batch(self) -> int:
        whole = self.batch_size * self.world_size
        return whole if len(self.rows) >= whole else len(self.rows) - len(self.rows) % self.world_size

    def steps(self) -> int:
        return max(1, len(self.rows) // self.global_batch())

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """Positions into ``rows`` of this process's batches in ``epoch``: ``steps()`` arrays of ``global_batch() / world_size``."""
        rng = np.random.default_rng([self.seed, epoch])
        size = self.global_batch()
        if self.balanced:
            counts = np.bincount(self.targets)
            p = 1.0 / counts[self.targets]
            order = rng.choice(len(self.rows), size=self.steps() * size, replace=True, p=p / p.sum())
        else:
            order = rng.permutation(len(self.rows))
        per = size // self.world_size
        return [order[s * size + self.rank * per: s * size + (self.rank + 1) * per] for s in range(self.steps())]


def base_rows(pdata: ProtocolData) -> tuple[np.ndarray, np.ndarray]:
    """Store rows of the base part and their base-class ids (positions in ``pdata.classes("base")``)."""
    rows = np.asarray(pdata.rows["base"], dtype=np.int64)
    classes = pdata.classes("base")
    to_base = np.full(len(pdata.store.classes), -1, dtype=np.int64)
    for i, name in enumerate(classes):
        to_base[pdata.store.classes.index(name)] = i
    targets = to_base[pdata.store.labels.cpu().numpy()[rows]]
    return rows, targets


def check_pretrain_config(cfg: RunConfig, n_base: int, base: list[str], protocol: str) -> None:
    """ConfigErrors of a pretraining run that need no data: the head, the base classes, the schedule."""
    if cfg.method not in PRETRAIN_HEADS:
        raise ConfigError(
            f"--method {cfg.method}: a pretraining run is validated with a metric head that needs no training "
            f"({', '.join(PRETRAIN_HEADS)}); to fine-tune {cfg.method} on the pretrained embedder run "
            f"`fsfer episode-train --init PRETRAIN/best.pt --method {cfg.method}`"
        )
    if n_base < 2:
        raise ConfigError(
            f"protocol {protocol} has {n_base} base class ({', '.join(base)}); a classifier needs at least 2: "
            "choose a protocol (or --base-classes) with more"
        )
    if cfg.init:
        raise ConfigError("--init is an episode-train option; a pretraining run starts from --weights FILE (a state dict)")


def _asked(signals: StopSignals, info: DistInfo, device: torch.device) -> bool:
    """Whether a stop signal reached this process (or, under torchrun, any process)."""
    if not info.enabled:
        return signals.received is not None
    flag = torch.tensor([float(signals.received is not None)], device=device if device.type == "cuda" else "cpu")
    return float(all_mean(flag, info)[0]) > 0


@torch.no_grad()
def base_feature_mean(embedder: torch.nn.Module, images: torch.Tensor, rows: np.ndarray, normalise: Normalise,
                      device: torch.device) -> torch.Tensor:
    """The mean pooled feature ``[C]`` of the base rows (SimpleShot's centre), in eval mode."""
    was = embedder.training
    embedder.eval()
    try:
        feats = embed_rows(embedder, images, torch.as_tensor(rows), normalise, device)
    finally:
        embedder.train(was)
    return feats.mean(dim=(0, 2, 3)).cpu()


def pretrain(
    cfg: RunConfig,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    stop_after: int | None = None,
    changes: dict[str, Any] | None = None,
    report: bool = False,
) -> PretrainResult:
    """Pretrain ``cfg.backbone`` as a classifier of its protocol's base classes, validate few-shot, test once.

    Everything that can be wrong with the options is checked before any data is read.
    On ``resume`` the run's own config applies, with ``changes`` (see
    :func:`fsfer.engine.run.start_run`). SIGINT or SIGTERM saves ``last.pt`` at the batch
    reached (with its place in the epoch) and raises :class:`~fsfer.errors.Interrupted`.
    ``report`` writes the run's pictures and ``report.md`` at the end (:func:`fsfer.report.write_report`).
    ``stop_after`` ends the run after that many epochs as if it were killed (tests use it).
    """
    start = start_run(cfg, "pretrain", resume, force, changes)
    cfg, out, checkpoint = start.cfg, start.out, start.checkpoint
    protocol = resolve_protocol(cfg)
    check_pretrain_config(cfg, len(protocol.classes("base")), protocol.classes("base"), protocol.name)
    return execute(cfg, out, report,
                   lambda device, info: _pretrain(cfg, out, device, info, checkpoint, force, progress, stop_after))


def _pretrain(
    cfg: RunConfig,
    out: Path,
    device: torch.device,
    info: DistInfo,
    checkpoint: dict[str, Any] | None,
    force: bool,
    progress: bool,
    stop_after: int | None,
) -> PretrainResult:
    from tqdm.auto import tqdm

    device = local_device(device, info)
    wall_start = time.perf_counter()

    def check_batches(index: ProtocolData) -> None:
        BaseBatches(*base_rows(index), cfg.batch_size, cfg.seed, cfg.balanced, info.world_size, info.rank)

    run_data = load_run_data(cfg, progress and info.is_main, training=False, check=check_batches)
    cfg, protocol, pdata, sets = run_data.cfg, run_data.protocol, run_data.pdata, run_data.sets
    rows, targets = base_rows(pdata)
    batches = BaseBatches(rows, targets, cfg.batch_size, cfg.seed, cfg.balanced, info.world_size, info.rank)
    n_base = len(pdata.classes("base"))
    torch.manual_seed(cfg.seed)
    cfg, embedder = pretrain_embedder(cfg, n_base)
    model = PretrainClassifier(embedder, n_base, cfg.classifier, cfg.label_smoothing).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
    scheduler = build_scheduler(cfg, optimizer, total=cfg.epochs)
    store = pdata.store.to(device) if (cfg.store_on_device and device.type == "cuda") else pdata.store
    rows_on = torch.as_tensor(rows, device=store.images.device)
    targets_on = torch.as_tensor(targets, device=device)
    normalise = Normalise()
    autocast = autocast_for(cfg.amp and device.type == "cuda")
    start, best_val = 0, -1.0
    if checkpoint is not None:
        start, best_val = restore(checkpoint, model, optimizer, scheduler)
    if info.is_main:
        claim_run_folder(out, cfg, "pretrain", force, checkpoint is None, pdata.store, sets.val, sets.test)
    if checkpoint is not None:
        set_rng_state(checkpoint["rng"])
    net = model
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    head = build_head(cfg, cfg.method, model.embedder, pretrained=True)

    def validate() -> EvalResult:
        if hasattr(head, "set_base_mean"):
            head.set_base_mean(base_feature_mean(model.embedder, store.images, rows, normalise, device))
        result = evaluate(head, store, sets.val, transform=normalise, device=device, autocast=autocast)
        model.train()
        return result

    def payload(epoch: int, best: float, batch: int = 0, partial: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
        """A checkpoint after ``epoch`` whole epochs and ``batch`` batches of the next (with that epoch's running sums)."""
        return run_payload("pretrain", model, optimizer, scheduler, epoch, best, cfg, pdata.store.classes,
                           info.world_size, normalise, base_classes=pdata.classes("base"), batch=batch,
                           partial={k: v.cpu() for k, v in (partial or {}).items()})

    steps = batches.steps()
    start_batch = int(checkpoint.get("batch", 0)) if checkpoint is not None else 0
    log: MetricsLog | None = None
    bar = tqdm(total=cfg.epochs * steps, initial=start * steps + start_batch, desc="pretrain", unit="batch",
               disable=not (progress and info.is_main))
    t0, seen = time.perf_counter(), 0
    model.train()
    signals = StopSignals()
    try:
        signals.install()
        for epoch in range(start, cfg.epochs):
            if stop_after is not None and epoch >= stop_after:
                break
            # the running sums of the epoch: loss x images, correct, images (then each loss term x images)
            totals = torch.zeros(3, device=device)
            loss_sums: dict[str, torch.Tensor] = {}
            skip = start_batch if epoch == start else 0
            if skip:
                saved = dict(checkpoint["partial"])  # type: ignore[index]
                totals = saved.pop("_totals").to(device)
                loss_sums = {k: v.to(device) for k, v in saved.items()}
            for step, positions in enumerate(batches.epoch(epoch)):
                if step < skip:
                    continue
                picked = rows_on[torch.as_tensor(positions, device=rows_on.device)]
                images = store.images.index_select(0, picked).to(device, non_blocking=True)
                labels = targets_on[torch.as_tensor(positions, device=device)]
                if cfg.augment:
                    g = episode_generator(cfg.seed + AUGMENT_STREAM, (epoch * steps + step) * info.world_size + info.rank)
                    images = augment_batch(images, g)
                images = normalise(images)
                if cfg.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                with autocast():
                    logits, losses = net(images, labels)
                    loss = sum(losses.values())
                if not bool(torch.isfinite(loss.detach())):
                    raise TrainingError(
                        f"epoch {epoch + 1}, batch {step + 1}: the loss is {float(loss.detach())} (not finite); stopped, "
                        f"keeping the last good checkpoint {out / 'last.pt'}; lower --lr or set --grad-clip"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                n = labels.numel()
                totals += torch.stack([loss.detach().float() * n, (logits.argmax(1) == labels).sum().float(),
                                       torch.tensor(float(n), device=device)])
                for k, v in losses.items():
                    loss_sums[k] = loss_sums.get(k, 0) + v.detach().float() * n
                seen += n
                if progress and info.is_main:
                    rate = seen / max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix(epoch=epoch + 1, img=f"{rate:.0f}/s", refresh=False)
                    bar.update(1)
                if step + 1 < steps and _asked(signals, info, device):
                    # mid-epoch: keep the epoch's position and running sums (averaged over ranks: the epoch's
                    # mean at its end is then the same as without the stop)
                    names = sorted(loss_sums)
                    flat = all_mean(torch.cat([totals, torch.stack([loss_sums[k] for k in names])]), info)
                    partial = {"_totals": flat[:3], **{k: flat[3 + i] for i, k in enumerate(names)}}
                    if info.is_main:
                        save_checkpoint(out / "last.pt", payload(epoch, best_val, step + 1, partial))
                    barrier(info)
                    raise interrupted("pretrain", out, signals.received or "a signal on another rank",
                                      f"in epoch {epoch + 1}, after batch {step + 1} of {steps}")
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            stats = torch.cat([totals, torch.stack([loss_sums[k] for k in sorted(loss_sums)])])
            stats = all_mean(stats if device.type == "cuda" and info.enabled else stats.cpu(), info).cpu()
            mean_loss, accuracy = float(stats[0] / stats[2]), float(stats[1] / stats[2])
            number = epoch + 1
            if info.is_main:
                if log is None:
                    log = MetricsLog(out / "metrics.csv", sorted(loss_sums), start if checkpoint is not None else None,
                                     step_column="epoch", tensorboard=out / TENSORBOARD_DIR if cfg.tensorboard else None)
                log.write({"epoch": number, "phase": "train", "loss": mean_loss, "accuracy": accuracy, "lr": lr,
                           **{f"loss_{k}": float(stats[3 + i] / stats[2]) for i, k in enumerate(sorted(loss_sums))}})
                bar.set_postfix(epoch=number, loss=f"{mean_loss:.3f}", acc=f"{accuracy:.2f}", refresh=True)
                best_val = validate_and_save(number, cfg.epochs, cfg, log, validate, payload, out, best_val)
            if _asked(signals, info, device):
                if info.is_main:
                    save_checkpoint(out / "last.pt", payload(number, best_val))
                barrier(info)
                raise interrupted("pretrain", out, signals.received or "a signal on another rank", f"after epoch {number}")
            barrier(info)
    finally:
        signals.restore()
        bar.close()
        if log is not None:
            log.close()
    finished = stop_after is None or stop_after >= cfg.epochs
    test = None
    if finished and info.is_main:
        best = load_checkpoint(out / "best.pt")
        model.load_state_dict(best["model"])
        mean = base_feature_mean(model.embedder, store.images, rows, normalise, device)
        best["feature_mean"] = mean  # SimpleShot's centre, of the best embedder
        save_checkpoint(out / "best.pt", {k: v for k, v in best.items() if k not in ("format", "version")})
        if hasattr(head, "set_base_mean"):
            head.set_base_mean(mean)
        test = evaluate(head, store, sets.test, transform=normalise, device=device, autocast=autocast, progress=progress)
        write_results(out, {"protocol": protocol.name, "method": f"pretrain+{cfg.method}", "backbone": cfg.backbone,
                            "split": "novel", "best_val_accuracy": best_val, "checkpoint": str(out / "best.pt"),
                            "epochs": cfg.epochs, "base_classes": pdata.classes("base"),
                            **run_facts(cfg, time.perf_counter() - wall_start, sets.disjoint_subjects, out),
                            **test.to_json()})
    barrier(info)
    return PretrainResult(out=out, epochs=cfg.epochs, best_val=best_val, test=test, disjoint_subjects=sets.disjoint_subjects,
                          head=cfg.method, notes=sets.notes)
