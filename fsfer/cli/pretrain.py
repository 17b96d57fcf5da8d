"""``fsfer pretrain``: train an embedder as a classifier of a protocol's base classes, validated few-shot."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from fsfer.cli.run_options import (
    AllowSmallOption, AmpOption, BackboneOption, BaseClassesOption, ChannelsLastOption, ConfigOption, DataOption,
    DeviceOption, DisjointOption, ForceOption, GradClipOption, ImageSizeOption, LrOption, NovelClassesOption,
    OptimizerOption, ProtocolOption, ResumeOption, SchedulerOption, SeedOption, TestEpisodesOption, TestQueryOption,
    TestShotOption, TestWayOption, ValClassesOption, ValEpisodesOption, WeightsOption, config_from_options,
)
from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = "Pretrain an embedder as a classifier of the base classes (then evaluate it few-shot, or --init episode-train)."


def pretrain(
    config: ConfigOption = None,
    data: DataOption = None,
    protocol: ProtocolOption = None,
    base_classes: BaseClassesOption = None,
    val_classes: ValClassesOption = None,
    novel_classes: NovelClassesOption = None,
    backbone: BackboneOption = None,
    weights: WeightsOption = None,
    method: Annotated[Optional[str], typer.Option("--method", help="Metric head of the validation and test episodes: protonet (default), cosine or simpleshot.")] = None,
    classifier: Annotated[Optional[str], typer.Option("--classifier", help="linear (default) or cosine (Baseline++).")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs over the base images (default 30).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Images per batch and process (default 64).")] = None,
    balanced: Annotated[Optional[bool], typer.Option("--balanced/--no-balanced", help="Class-balanced batches (each class equally likely; default off).")] = None,
    label_smoothing: Annotated[Optional[float], typer.Option("--label-smoothing", help="Label smoothing of the cross-entropy (default 0).")] = None,
    lr: LrOption = None,
    optimizer: OptimizerOption = None,
    weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", help="Weight decay (default 5e-4).")] = None,
    scheduler: SchedulerOption = None,
    step_size: Annotated[Optional[int], typer.Option("--step-size", help="Epochs between learning-rate steps of --scheduler step (default 10).")] = None,
    grad_clip: GradClipOption = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Random crop, flip and colour jitter (default on).")] = None,
    image_size: ImageSizeOption = None,
    test_way: TestWayOption = None,
    test_shot: TestShotOption = None,
    test_query: TestQueryOption = None,
    disjoint_subjects: DisjointOption = None,
    allow_small: AllowSmallOption = None,
    device: DeviceOption = None,
    amp: AmpOption = None,
    channels_last: ChannelsLastOption = None,
    seed: SeedOption = None,
    val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate every N epochs (default 1).")] = None,
    val_episodes: ValEpisodesOption = None,
    save_every: Annotated[Optional[int], typer.Option("--save-every", help="Write last.pt every N epochs (default 1).")] = None,
    test_episodes: TestEpisodesOption = None,
    out: Annotated[Optional[str], typer.Option("--out", help="Run folder (default runs/<protocol>-pretrain-<backbone>).")] = None,
    resume: ResumeOption = False,
    force: ForceOption = False,
    threads: ThreadsOption = None,
) -> None:
    """Train the backbone with cross-entropy (plus its paper's auxiliary losses) on the base rows only; a metric head on
    the protocol's fixed validation episodes picks best.pt; the novel-class test episodes are scored once at the end.

    Then: `fsfer evaluate DIR/best.pt --method protonet|cosine|simpleshot`, or
    `fsfer episode-train --init DIR/best.pt --method crn` to fine-tune episodically.
    """
    from fsfer.engine.config import RunConfig
    from fsfer.engine.pretrain import PRETRAIN_DEFAULTS, pretrain as run_pretrain

    given: dict[str, Any] = {
        "data": data, "protocol": protocol, "base_classes": base_classes, "val_classes": val_classes,
        "novel_classes": novel_classes, "backbone": backbone, "weights": weights, "method": method,
        "classifier": classifier, "epochs": epochs, "batch_size": batch_size, "balanced": balanced,
        "label_smoothing": label_smoothing, "lr": lr, "optimizer": optimizer, "weight_decay": weight_decay,
        "scheduler": scheduler, "step_size": step_size, "grad_clip": grad_clip, "augment": augment,
        "image_size": image_size, "test_way": test_way, "test_shot": test_shot, "test_query": test_query,
        "disjoint_subjects": disjoint_subjects, "allow_small": allow_small, "device": device, "amp": amp,
        "channels_last": channels_last, "seed": seed, "val_every": val_every, "val_episodes": val_episodes,
        "save_every": save_every, "test_episodes": test_episodes, "out": out,
    }
    cfg = config_from_options(config, given, base=RunConfig(**PRETRAIN_DEFAULTS))
    with torch_threads(threads):
        result = run_pretrain(cfg, resume=resume, force=force, progress=True)
    if result.test is None:
        return
    t = result.test
    people = "subject-disjoint" if result.disjoint_subjects else "subjects not kept apart"
    typer.echo(
        f"novel classes, frozen embedder + {cfg.method}, {t.n_way}-way {t.k_shot}-shot, {t.episodes} episodes ({people}): "
        f"accuracy {100 * t.accuracy:.2f}% +- {100 * t.ci95:.2f}% (best validation {100 * result.best_val:.2f}%)"
    )
    typer.echo(f"results: {result.out / 'results.json'}  metrics: {result.out / 'metrics.csv'}  embedder: {result.out / 'best.pt'}")
    typer.echo(f"next: fsfer evaluate {result.out / 'best.pt'} --method simpleshot   or   "
               f"fsfer episode-train --init {result.out / 'best.pt'} --backbone {cfg.backbone} --method crn")
