"""``fsfer pretrain``: train an embedder as a classifier of a protocol's base classes, validated few-shot."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from fsfer.cli.run_options import config_from_options, resume_changes, run_options
from fsfer.cli.threads import ThreadsOption, torch_threads
from fsfer.cli.train import print_outcome
from fsfer.engine.config import PRETRAIN_DEFAULTS, RunConfig

HELP = "Pretrain an embedder as a classifier of the base classes (then evaluate it few-shot, or --init episode-train)."
P = run_options(RunConfig(**PRETRAIN_DEFAULTS))


def pretrain(
    config: P.config = None,
    data: P.data = None,
    protocol: P.protocol = None,
    base_classes: P.base_classes = None,
    val_classes: P.val_classes = None,
    novel_classes: P.novel_classes = None,
    backbone: P.backbone = None,
    backbone_option: P.backbone_option = None,
    weights: P.weights = None,
    method: Annotated[Optional[str], typer.Option("--method", help="Metric head of the validation and test episodes: protonet, cosine or simpleshot.", show_default="protonet")] = None,
    method_option: P.method_option = None,
    classifier: Annotated[Optional[str], typer.Option("--classifier", help="linear, or cosine (Baseline++).", show_default="linear")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs over the base images.", show_default="30")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Images per batch and process.", show_default="64")] = None,
    balanced: Annotated[Optional[bool], typer.Option("--balanced/--no-balanced", help="Class-balanced batches (each class equally likely).", show_default="off")] = None,
    label_smoothing: Annotated[Optional[float], typer.Option("--label-smoothing", help="Label smoothing of the cross-entropy.", show_default="0.0")] = None,
    lr: P.lr = None,
    optimizer: P.optimizer = None,
    weight_decay: P.weight_decay = None,
    scheduler: P.scheduler = None,
    step_size: P.step_size = None,
    gamma: P.gamma = None,
    grad_clip: P.grad_clip = None,
    augment: P.augment = None,
    image_size: P.image_size = None,
    test_way: P.test_way = None,
    test_shot: P.test_shot = None,
    test_query: P.test_query = None,
    disjoint_subjects: P.disjoint_subjects = None,
    allow_small: P.allow_small = None,
    device: P.device = None,
    amp: P.amp = None,
    channels_last: P.channels_last = None,
    store_on_device: P.store_on_device = None,
    seed: P.seed = None,
    val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate every N epochs.", show_default="1")] = None,
    val_episodes: P.val_episodes = None,
    save_every: Annotated[Optional[int], typer.Option("--save-every", help="Write last.pt every N epochs.", show_default="1")] = None,
    test_episodes: P.test_episodes = None,
    out: Annotated[Optional[str], typer.Option("--out", help="Run folder.", show_default="runs/<protocol>-pretrain-<backbone>")] = None,
    resume: P.resume = False,
    force: P.force = False,
    tensorboard: P.tensorboard = None,
    quiet: P.quiet = False,
    threads: ThreadsOption = None,
) -> None:
    """Train the backbone with cross-entropy (plus its paper's auxiliary losses) on the base rows only; a metric head on
    the protocol's fixed validation episodes picks best.pt; the novel-class test episodes are scored once at the end.

    Then: `fsfer evaluate DIR/best.pt --method protonet|cosine|simpleshot`, or
    `fsfer episode-train --init DIR/best.pt --method crn` to fine-tune episodically.
    """
    from fsfer.engine.pretrain import pretrain as run_pretrain

    given: dict[str, Any] = {
        "data": data, "protocol": protocol, "base_classes": base_classes, "val_classes": val_classes,
        "novel_classes": novel_classes, "backbone": backbone, "backbone_option": backbone_option, "weights": weights,
        "method": method, "method_option": method_option, "classifier": classifier, "epochs": epochs,
        "batch_size": batch_size, "balanced": balanced, "label_smoothing": label_smoothing, "lr": lr,
        "optimizer": optimizer, "weight_decay": weight_decay, "scheduler": scheduler, "step_size": step_size,
        "gamma": gamma, "grad_clip": grad_clip, "augment": augment, "image_size": image_size, "test_way": test_way,
        "test_shot": test_shot, "test_query": test_query, "disjoint_subjects": disjoint_subjects,
        "allow_small": allow_small, "device": device, "amp": amp, "channels_last": channels_last, "store_on_device": store_on_device, "tensorboard": tensorboard, "seed": seed,
        "val_every": val_every, "val_episodes": val_episodes, "save_every": save_every,
        "test_episodes": test_episodes, "out": out,
    }
    changes = resume_changes(config, given) if resume else None
    base = RunConfig(**PRETRAIN_DEFAULTS)
    cfg = config_from_options(None if resume else config, {"out": out} if resume else given, base=base)
    with torch_threads(threads):
        result = run_pretrain(cfg, resume=resume, force=force, progress=not quiet, changes=changes, report=True)
    print_outcome(result, "pretrain", head=result.head)
    if result.test is not None:
        typer.echo(f"next: fsfer evaluate {result.out / 'best.pt'} --method simpleshot   or   "
                   f"fsfer episode-train --init {result.out / 'best.pt'} --backbone {cfg.backbone} --method crn")
