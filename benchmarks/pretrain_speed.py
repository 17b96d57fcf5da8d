"""Classifier-pretraining images/s: fsfer's ``pretrain`` loop against a plain torchvision ImageFolder + DataLoader loop.

Both sides train the same model (``PretrainClassifier(build_embedder(BACKBONE), 7)``:
conv4 and a linear head by default) on the same JPEG files, with the same optimiser
(SGD lr 0.05, momentum 0.9, weight decay 5e-4), batch size, epochs, image size and
augmentation (random crop with edge padding H/16, horizontal flip, colour jitter 0.4),
in one run.

The files: SynthFER faces (``fsfer.synth``'s catalogue and renderer, the images
``fsfer synth`` draws, but saved as JPEG quality 90 at ``--file-size`` px, 100 by
default, like RAF-DB's aligned 100x100 JPEG faces; ``fsfer synth`` itself writes only
PNG) in a temporary ImageFolder layout ``ROOT/<class>/<file>.jpg`` with no manifest:
the official train split of the 7 basic classes, both domains (1,176 images at the
defaults of 40 subjects x 3 images), which both sides train on, plus ``--holdout``
(20) images of each of 4 compound classes for fsfer's 2-way validation and test
episodes (2 val classes, 2 novel classes; the peer ignores those folders).

1. fsfer: the real ``fsfer.engine.pretrain.pretrain`` on data spec ``folder:ROOT``,
   from a fresh image cache, validating and saving only after the last epoch. The
   loop is timed from outside by wrapping two names it looks up in its module
   (``claim_run_folder``, called just before the first epoch, and ``MetricsLog``,
   whose ``train`` row is written at the end of each epoch); nothing in fsfer changes.
   Reported: steady-state training images/s (epochs 2..E), all-epoch images/s, the
   set-up (read the folder, decode every image once, write the cache, build the
   model), and the whole call (with the final validation, test episodes, checkpoints).
2. Peer: ``torchvision.datasets.ImageFolder`` (the 7 basic class folders) with
   ``Compose([Resize(S), RandomCrop(S, padding=S//16, padding_mode='edge'),
   RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4), ToTensor(), Normalize(0.5, 0.5)])``
   and ``DataLoader(batch_size, shuffle=True, drop_last=True, num_workers=W,
   persistent_workers=W > 0)`` for each W of ``--workers`` (0 and 1: on 2 cores more
   workers only compete); every image is decoded and transformed every epoch.
3. Input pipeline alone (no model): fsfer's first load (``load_protocol_data``:
   read + decode + cache), then its per-batch gather of uint8 rows +
   ``augment_batch`` + ``Normalise`` over the same epochs, against iterating the
   peer's DataLoader.

Each round runs 1, then 3, then 2 for each W, in turn; ``--repeats`` rounds (2) and
their medians are reported, as the speed of a shared machine drifts from minute to
minute. The same number of steps per epoch on both sides (the last partial batch dropped).
fsfer runs on ``--threads`` torch threads (its decode uses its own thread pool); a
peer with W workers uses W more processes, so W=1 uses both cores of a 2-core machine.
Results: ``benchmarks/results/pretrain_speed.json`` and ``.md``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pretrain_speed.py [--epochs 3] [--workers 0 1] [--repeats 2] [--quick]

fsfer pretrains in ``channels_last`` by default (measured 1.5x faster for conv4 on the
CPU); a last peer row runs the plain loop with the same switch, so the table shows how
much of the ratio is the memory format and how much the input pipeline.

A default run takes about 5 minutes on 2 CPU cores; ``--quick`` (196 images at 32 px,
2 epochs, workers 0, one round; writes no results unless ``--out`` is given) about 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

RESULTS = Path(__file__).parent / "results" / "pretrain_speed.json"
BASIC = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger")
VAL_CLASSES = ("happily_surprised", "happily_disgusted")
NOVEL_CLASSES = ("sadly_fearful", "sadly_angry")
JPEG_QUALITY = 90


def write_images(root: Path, file_size: int, subjects: int, per_subject: int, holdout: int) -> dict[str, Any]:
    """Render SynthFER into ``root/<class>/<name>.jpg``: the basic classes' train split, and
    ``holdout`` images of each val / novel class. Returns what was written."""
    from fsfer.synth.catalog import image_name, synth_images
    from fsfer.synth.options import check_options
    from fsfer.synth.render import render_image

    options = check_options("both", subjects=subjects, per_subject=per_subject, size=file_size, classes="all")
    wanted = {c: None for c in BASIC} | {c: holdout for c in VAL_CLASSES + NOVEL_CLASSES}
    counts = {c: 0 for c in wanted}
    for c in wanted:
        (root / c).mkdir(parents=True)
    for image in synth_images(options):
        c = image.category
        if c not in wanted or (wanted[c] is None and image.split != "train") or (
            wanted[c] is not None and counts[c] >= wanted[c]
        ):
            continue
        name = f"{image.domain}_{image_name(image, options.subjects, options.per_subject)}.jpg"
        Image.fromarray(render_image(image, file_size), "RGB").save(root / c / name, quality=JPEG_QUALITY)
        counts[c] += 1
    return {
        "root_layout": "ROOT/<class>/<domain>_<subject>_<index>.jpg (no manifest: every image is split train)",
        "format": f"JPEG quality {JPEG_QUALITY}, {file_size}x{file_size} RGB (SynthFER, fsfer.synth renderer)",
        "synth": {"subjects": subjects, "per_subject": per_subject, "domains": "lab+wild", "seed": 0},
        "train_images": sum(counts[c] for c in BASIC),
        "holdout_images": sum(counts[c] for c in VAL_CLASSES + NOVEL_CLASSES),
        "bytes": sum(p.stat().st_size for p in root.rglob("*.jpg")),
        "per_class": counts,
    }


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rates(epoch_s: list[float], images_per_epoch: int) -> dict[str, Any]:
    """images/s over epochs 2..E (steady) and over all epochs, from per-epoch seconds."""
    return {
        "epoch_s": epoch_s,
        "images_per_epoch": images_per_epoch,
        "steady_images_per_s": images_per_epoch * (len(epoch_s) - 1) / sum(epoch_s[1:]),
        "all_images_per_s": images_per_epoch * len(epoch_s) / sum(epoch_s),
        "train_s": sum(epoch_s),
    }


def fsfer_pretrain(args: argparse.Namespace, root: Path, tmp: Path, device: torch.device) -> dict[str, Any]:
    """The real ``pretrain()`` on ``folder:root`` from a fresh cache, its loop timed from outside."""
    import fsfer.engine.pretrain as pt

    cfg = pt.pretrain_config(
        data=[f"folder:{root}"], base_classes=list(BASIC), val_classes=list(VAL_CLASSES),
        novel_classes=list(NOVEL_CLASSES), backbone=args.backbone, epochs=args.epochs, batch_size=args.batch_size,
        image_size=args.image_size, device=device.type, seed=0, val_every=args.epochs, save_every=args.epochs,
        n_way=2, k_shot=1, q_query=5, test_way=2, test_shot=1, test_query=5, val_episodes=args.eval_episodes,
        test_episodes=args.eval_episodes, allow_small=True, disjoint_subjects=False, out=str(tmp / "run"),
    )
    marks: dict[str, Any] = {"epochs": []}
    claim, log_class = pt.claim_run_folder, pt.MetricsLog

    def timed_claim(*a: Any, **k: Any) -> None:
        claim(*a, **k)
        marks["loop_start"] = time.perf_counter()

    class TimedLog(log_class):  # type: ignore[misc, valid-type]
        def write(self, row: dict[str, Any]) -> None:
            if row.get("phase") == "train":
                marks["epochs"].append(time.perf_counter())
            super().write(row)

    os.environ["FSFER_CACHE"] = str(tmp / "cache-pretrain")  # a fresh cache: the run decodes every image
    pt.claim_run_folder, pt.MetricsLog = timed_claim, TimedLog
    try:
        start = time.perf_counter()
        result = pt.pretrain(cfg, force=True, progress=False)
        sync(device)
        wall = time.perf_counter() - start
    finally:
        pt.claim_run_folder, pt.MetricsLog = claim, log_class
    stamps = [marks["loop_start"]] + marks["epochs"]
    epoch_s = [b - a for a, b in zip(stamps, stamps[1:])]
    n_base = sum(1 for c in BASIC for _ in (root / c).iterdir())
    out = rates(epoch_s, (n_base // args.batch_size) * args.batch_size)
    out.update({
        "setup_s": marks["loop_start"] - start,
        "after_training_s": wall - (marks["epochs"][-1] - start),
        "pretrain_wall_s": wall,
        "best_val_accuracy": result.best_val,
        "test_accuracy": result.test.accuracy if result.test is not None else None,
    })
    return out


def fsfer_pipeline(args: argparse.Namespace, root: Path, tmp: Path, device: torch.device) -> dict[str, Any]:
    """fsfer's first load (read + decode + cache) and its per-batch input pipeline alone, over ``epochs``."""
    from fsfer.engine.build import resolve_protocol
    from fsfer.engine.pretrain import AUGMENT_STREAM, BaseBatches, base_rows, pretrain_config
    from fsfer.episodes.sampler import episode_generator
    from fsfer.protocol_data import load_protocol_data
    from fsfer.transforms import Normalise, augment_batch

    cfg = pretrain_config(base_classes=list(BASIC), val_classes=list(VAL_CLASSES), novel_classes=list(NOVEL_CLASSES))
    start = time.perf_counter()
    pdata = load_protocol_data(resolve_protocol(cfg), [f"folder:{root}"], args.image_size,
                               cache_dir=str(tmp / "cache-pipeline"))
    load_s = time.perf_counter() - start
    rows, targets = base_rows(pdata)
    batches = BaseBatches(rows, targets, args.batch_size, seed=0)
    store = pdata.store.to(device) if device.type == "cuda" else pdata.store
    rows_on = torch.as_tensor(rows, device=store.images.device)
    targets_on = torch.as_tensor(targets, device=device)
    normalise, steps, epoch_s = Normalise(), batches.steps(), []
    for epoch in range(args.epochs):
        sync(device)
        t0 = time.perf_counter()
        for step, positions in enumerate(batches.epoch(epoch)):
            picked = rows_on[torch.as_tensor(positions, device=rows_on.device)]
            images = store.images.index_select(0, picked).to(device, non_blocking=True)
            labels = targets_on[torch.as_tensor(positions, device=device)]
            images = normalise(augment_batch(images, episode_generator(AUGMENT_STREAM, epoch * steps + step)))
            del images, labels
        sync(device)
        epoch_s.append(time.perf_counter() - t0)
    n_all = len(pdata.store.labels)
    out = rates(epoch_s, steps * args.batch_size)
    out.update({"first_load_s": load_s, "first_load_images": n_all, "first_load_images_per_s": n_all / load_s})
    return out


def base_folder(root: Path, transform: Any):
    """torchvision ImageFolder over the base (basic) class folders only (the val / novel folders left out)."""
    from torchvision.datasets import ImageFolder

    class BaseFolder(ImageFolder):
        def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
            return list(BASIC), {c: i for i, c in enumerate(BASIC)}

    return BaseFolder(str(root), transform=transform)


def peer_loader(args: argparse.Namespace, root: Path, workers: int, device: torch.device):
    from torchvision import transforms as T

    size = args.image_size
    transform = T.Compose([
        T.Resize(size), T.RandomCrop(size, padding=max(1, size // 16), padding_mode="edge"), T.RandomHorizontalFlip(),
        T.ColorJitter(0.4, 0.4, 0.4), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3),
    ])
    dataset = base_folder(root, transform)
    return torch.utils.data.DataLoader(
        dataset, batch_size=args.batch_size, shuffle=True, drop_last=True, num_workers=workers,
        persistent_workers=workers > 0, pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(0),
    )


def peer_train(args: argparse.Namespace, root: Path, workers: int, device: torch.device, train: bool,
               channels_last: bool = False) -> dict[str, Any]:
    """The plain loop: ImageFolder + DataLoader, the same model and optimiser (``train=False``: the loader alone;
    ``channels_last``: model and batches in that memory format, as fsfer's pretrain default)."""
    from fsfer.models.classifier import PretrainClassifier
    from fsfer.models.registry import build_embedder

    torch.manual_seed(0)
    loader = peer_loader(args, root, workers, device)
    model = PretrainClassifier(build_embedder(args.backbone), len(BASIC)).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    model.train()
    epoch_s, seen, correct = [], 0, torch.zeros((), device=device)
    for _ in range(args.epochs):
        sync(device)
        t0 = time.perf_counter()
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            if train:
                logits, losses = model(images, labels)
                loss = sum(losses.values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                correct += (logits.argmax(1) == labels).sum()
            seen += labels.numel()
        if train:
            scheduler.step()
        sync(device)
        epoch_s.append(time.perf_counter() - t0)
    out = rates(epoch_s, seen // args.epochs)
    if train:
        out["train_accuracy"] = float(correct) / seen
    del loader
    return out


def one_round(args: argparse.Namespace, root: Path, tmp: Path, device: torch.device) -> dict[str, Any]:
    """fsfer's pretrain() and input pipeline, then each peer (loader alone, then training), in turn."""
    tmp.mkdir()
    fsfer = fsfer_pretrain(args, root, tmp, device)
    print(f"  fsfer pretrain(): {fsfer['steady_images_per_s']:.1f} img/s steady, wall {fsfer['pretrain_wall_s']:.1f} s",
          flush=True)
    fsfer_pipe = fsfer_pipeline(args, root, tmp, device)
    print(f"  fsfer input pipeline: {fsfer_pipe['steady_images_per_s']:.0f} img/s; first load "
          f"{fsfer_pipe['first_load_s']:.2f} s", flush=True)
    peer: dict[str, Any] = {}
    for w in args.workers:
        name = f"workers={w}"
        peer[name] = {"pipeline": peer_train(args, root, w, device, train=False)}
        peer[name]["train"] = peer_train(args, root, w, device, train=True)
        print(f"  peer {name}: {peer[name]['train']['steady_images_per_s']:.1f} img/s steady training, "
              f"{peer[name]['pipeline']['steady_images_per_s']:.0f} img/s loader alone", flush=True)
    # fsfer pretrains in channels_last by default (measured faster on the CPU); the same switch in the plain loop
    # shows how much of the ratio is the memory format rather than the input pipeline
    w = args.workers[0]
    name = f"workers={w}, channels_last"
    peer[name] = {"pipeline": peer[f"workers={w}"]["pipeline"],
                  "train": peer_train(args, root, w, device, train=True, channels_last=True)}
    print(f"  peer {name}: {peer[name]['train']['steady_images_per_s']:.1f} img/s steady training", flush=True)
    return {"fsfer": fsfer, "fsfer_pipeline": fsfer_pipe, "peer": peer}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over rounds of every number (lists, e.g. epoch_s, are kept per round)."""
    out: dict[str, Any] = {}
    for k, v in rows[0].items():
        values = [r[k] for r in rows]
        if all(x == v for x in values) and not isinstance(v, list):
            out[k] = v
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and None not in values:
            out[k] = float(np.median(values))
        else:
            out[k] = values
    return out


def round_ratios(fsfer: dict[str, Any], fsfer_pipe: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """fsfer / peer: steady and all-epoch training images/s, input pipeline alone, and end to end
    (the peer's epochs / fsfer's set-up with its decode + epochs)."""
    end = fsfer["setup_s"] + fsfer["train_s"]
    return {
        "train_steady": {k: fsfer["steady_images_per_s"] / p["train"]["steady_images_per_s"] for k, p in peer.items()},
        "train_all_epochs": {k: fsfer["all_images_per_s"] / p["train"]["all_images_per_s"] for k, p in peer.items()},
        "pipeline_steady": {k: fsfer_pipe["steady_images_per_s"] / p["pipeline"]["steady_images_per_s"]
                            for k, p in peer.items()},
        "end_to_end": {k: p["train"]["train_s"] / end for k, p in peer.items()},
    }


def markdown(result: dict[str, Any]) -> str:
    s, d, f, fp = result["setting"], result["data"], result["fsfer"], result["fsfer_pipeline"]
    lines = [
        "# Classifier pretraining speed: fsfer vs torchvision ImageFolder + DataLoader",
        "",
        f"{d['train_images']} training images ({d['format']}; 7 basic classes), trained at {s['image_size']} px, "
        f"{s['backbone']} + linear head, SGD, batch {s['batch_size']}, {s['epochs']} epochs of "
        f"{f['images_per_epoch']} images; {s['device']}, {s['threads']} torch thread(s), torch {result['machine']['torch']}, "
        f"{result['machine']['cpu_count']} CPU core(s) (a shared machine: rates are indicative). "
        f"Steady = epochs 2..E. {result['summary'].capitalize()}.",
        "",
        "| loop | steady train img/s | all-epoch train img/s | input pipeline alone img/s |",
        "|---|---:|---:|---:|",
        f"| fsfer pretrain() (1 process) | {f['steady_images_per_s']:.1f} | {f['all_images_per_s']:.1f} | "
        f"{fp['steady_images_per_s']:.0f} |",
    ]
    for w, p in result["peer"].items():
        lines.append(f"| ImageFolder + DataLoader, {w} | {p['train']['steady_images_per_s']:.1f} | "
                     f"{p['train']['all_images_per_s']:.1f} | {p['pipeline']['steady_images_per_s']:.0f} |")
    r = result["ratios"]

    def spread(kind: str, k: str) -> str:
        values = [x[kind][k] for x in r["per_round"]]
        return f" (rounds {min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""

    lines += [
        "",
        "fsfer / peer, steady training: "
        + ", ".join(f"{v:.2f}x vs {k}{spread('train_steady', k)}" for k, v in r["train_steady"].items()) + ".",
        "fsfer / peer, input pipeline alone: " + ", ".join(f"{v:.1f}x vs {k}" for k, v in r["pipeline_steady"].items())
        + ".",
        "",
        "Where an epoch goes: the input pipeline alone takes "
        f"{fp['train_s'] / f['train_s']:.0%} of fsfer's training time and "
        + ", ".join(f"{p['pipeline']['train_s'] / p['train']['train_s']:.0%} of the peer's ({w})"
                    for w, p in result["peer"].items())
        + "; the rest is the model's forward, backward and SGD step, the same on both sides, which bounds "
        "the training ratio (Amdahl) whatever the input pipeline costs.",
        "",
        f"fsfer's one-time cost: first load (read folder + decode {fp['first_load_images']:.0f} JPEGs + write cache) "
        f"{fp['first_load_s']:.2f} s ({fp['first_load_images_per_s']:.0f} img/s); inside pretrain() the set-up "
        f"(incl. that decode, model build, episode files) took {f['setup_s']:.2f} s, the {s['epochs']} epochs "
        f"{f['train_s']:.1f} s, the final validation + test + checkpoints {f['after_training_s']:.2f} s: "
        f"{f['pretrain_wall_s']:.1f} s in all. End to end (set-up + epochs) vs the peer's epochs: "
        + ", ".join(f"{v:.2f}x vs {k}{spread('end_to_end', k)}" for k, v in r["end_to_end"].items()) + ".",
        "",
        f"Command: `{result['command']}`",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs on each side (at least 2: epoch 1 is excluded "
                        "from the steady rate)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64, help="training size (px)")
    parser.add_argument("--file-size", type=int, default=100, help="size of the JPEG files on disk (px)")
    parser.add_argument("--backbone", default="conv4")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="DataLoader num_workers of the peer")
    parser.add_argument("--subjects", type=int, default=40, help="SynthFER subjects (70%% are the train split)")
    parser.add_argument("--per-subject", type=int, default=3, help="SynthFER images per subject, class and domain")
    parser.add_argument("--holdout", type=int, default=20, help="images of each val / novel class (fsfer's episodes)")
    parser.add_argument("--eval-episodes", type=int, default=20, help="fsfer's validation and test episodes (2-way)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds of every measurement, default 2 (1 with "
                        "--quick); medians are reported (a shared machine's speed drifts between runs)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 subjects x 2, 32 px, 2 epochs, workers 0")
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON, the .md beside it (default benchmarks/results/pretrain_speed.json; "
                        "--quick writes none unless given)")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.per_subject, args.image_size, args.epochs, args.workers = 10, 2, 32, 2, [0]
        args.holdout, args.eval_episodes = 8, 5
    if args.repeats is None:
        args.repeats = 1 if args.quick else 2
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the steady rate excludes epoch 1)")
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    import torchvision

    with tempfile.TemporaryDirectory(prefix="pretrain_speed.") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "faces"
        t0 = time.perf_counter()
        data = write_images(root, args.file_size, args.subjects, args.per_subject, args.holdout)
        data["write_s"] = time.perf_counter() - t0
        print(f"wrote {data['train_images']} + {data['holdout_images']} JPEGs ({data['bytes'] / 1e6:.1f} MB) "
              f"in {data['write_s']:.1f} s", flush=True)
        rounds = []
        for r in range(args.repeats):
            print(f"round {r + 1} of {args.repeats}", flush=True)
            rounds.append(one_round(args, root, tmp / f"round{r}", device))
    fsfer = summary([x["fsfer"] for x in rounds])
    fsfer_pipe = summary([x["fsfer_pipeline"] for x in rounds])
    peer = {k: {part: summary([x["peer"][k][part] for x in rounds]) for part in ("pipeline", "train")}
            for k in rounds[0]["peer"]}
    per_round = [round_ratios(x["fsfer"], x["fsfer_pipeline"], x["peer"]) for x in rounds]
    ratios = round_ratios(fsfer, fsfer_pipe, peer)
    ratios["per_round"] = per_round
    result = {
        "what": "classifier-pretraining images/s: fsfer pretrain() vs torchvision ImageFolder + DataLoader, same model, "
                "optimiser, images and augmentation",
        "command": shlex.join(["OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "unset"),
                               ".venv/bin/python", *sys.argv]),
        "machine": {
            "torch": torch.__version__, "torchvision": torchvision.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
        "setting": {
            "epochs": args.epochs, "batch_size": args.batch_size, "image_size": args.image_size,
            "file_size": args.file_size, "backbone": args.backbone, "classifier": "linear", "threads": args.threads,
            "device": str(device), "workers": args.workers, "quick": args.quick,
            "optimizer": "SGD lr 0.05 momentum 0.9 weight decay 5e-4, cosine over epochs",
            "augmentation": f"random crop (edge pad {max(1, args.image_size // 16)}), flip, colour jitter 0.4/0.4/0.4, "
                            "normalise (x - 0.5) / 0.5",
            "fsfer_protocol": {"base": list(BASIC), "val": list(VAL_CLASSES), "novel": list(NOVEL_CLASSES),
                               "episodes": "2-way 1-shot 5-query", "eval_episodes": args.eval_episodes},
        },
        "data": data,
        "summary": f"median of {args.repeats} round(s) (fsfer, then each peer, in turn); each round's numbers in rounds",
        "fsfer": fsfer,
        "fsfer_pipeline": fsfer_pipe,
        "peer": peer,
        "ratios": ratios,
        "end_to_end_s": {"fsfer_setup_plus_epochs": fsfer["setup_s"] + fsfer["train_s"],
                         **{f"peer_{k}": p["train"]["train_s"] for k, p in peer.items()}},
        "rounds": rounds,
    }
    text = markdown(result)
    print()
    print(text)
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        out.with_suffix(".md").write_text(text)
        print(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
