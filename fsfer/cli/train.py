"""``fsfer episode-train``: train a few-shot method on a protocol's base classes, then test on its novel ones."""

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

HELP = "Train a few-shot method episodically (default: CRN on SynthFER, synth-basic-to-compound)."


def episode_train(
    config: ConfigOption = None,
    data: DataOption = None,
    protocol: ProtocolOption = None,
    base_classes: BaseClassesOption = None,
    val_classes: ValClassesOption = None,
    novel_classes: NovelClassesOption = None,
    method: Annotated[Optional[str], typer.Option("--method", help="crn, relation, protonet, matching, cosine, simpleshot, maml, anil.")] = None,
    backbone: BackboneOption = None,
    weights: WeightsOption = None,
    init: Annotated[Optional[str], typer.Option("--init", help="Start the embedder from an fsfer checkpoint (e.g. PRETRAIN/best.pt of `fsfer pretrain`), then fine-tune episodically.")] = None,
    n_way: Annotated[Optional[int], typer.Option("--n-way", help="Training ways (default: the protocol's setting, else 5).")] = None,
    k_shot: Annotated[Optional[int], typer.Option("--k-shot", help="Training shots (default: the protocol's setting, else 1).")] = None,
    q_query: Annotated[Optional[int], typer.Option("--q-query", help="Training queries per class (default: the protocol's setting, else 5).")] = None,
    test_way: TestWayOption = None,
    test_shot: TestShotOption = None,
    test_query: TestQueryOption = None,
    disjoint_subjects: DisjointOption = None,
    allow_small: AllowSmallOption = None,
    episodes: Annotated[Optional[int], typer.Option("--episodes", help="Training episodes.")] = None,
    lr: LrOption = None,
    optimizer: OptimizerOption = None,
    scheduler: SchedulerOption = None,
    grad_clip: GradClipOption = None,
    image_size: ImageSizeOption = None,
    device: DeviceOption = None,
    amp: AmpOption = None,
    channels_last: ChannelsLastOption = None,
    seed: SeedOption = None,
    val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate every N episodes.")] = None,
    val_episodes: ValEpisodesOption = None,
    save_every: Annotated[Optional[int], typer.Option("--save-every", help="Write last.pt every N episodes.")] = None,
    test_episodes: TestEpisodesOption = None,
    out: Annotated[Optional[str], typer.Option("--out", help="Run folder (default runs/<protocol>-<method>-<backbone>-<N>w<K>s).")] = None,
    resume: ResumeOption = False,
    force: ForceOption = False,
    threads: ThreadsOption = None,
) -> None:
    """Train on base-class episodes, validate on a fixed validation set, test the best model on novel classes."""
    from fsfer.engine.train import train

    given: dict[str, Any] = {
        "data": data, "protocol": protocol, "base_classes": base_classes, "val_classes": val_classes,
        "novel_classes": novel_classes, "method": method, "backbone": backbone, "weights": weights, "init": init,
        "n_way": n_way, "k_shot": k_shot, "q_query": q_query, "test_way": test_way, "test_shot": test_shot,
        "test_query": test_query, "disjoint_subjects": disjoint_subjects, "allow_small": allow_small, "episodes": episodes, "lr": lr,
        "optimizer": optimizer, "scheduler": scheduler, "grad_clip": grad_clip, "image_size": image_size,
        "device": device, "amp": amp, "channels_last": channels_last, "seed": seed, "val_every": val_every,
        "val_episodes": val_episodes, "save_every": save_every, "test_episodes": test_episodes, "out": out,
    }
    cfg = config_from_options(config, given)
    with torch_threads(threads):
        result = train(cfg, resume=resume, force=force, progress=True)
    if result.test is None:
        return
    t = result.test
    people = "subject-disjoint" if result.disjoint_subjects else "subjects not kept apart"
    typer.echo(
        f"novel classes, {t.n_way}-way {t.k_shot}-shot, {t.episodes} episodes ({people}): "
        f"accuracy {100 * t.accuracy:.2f}% +- {100 * t.ci95:.2f}% (best validation {100 * result.best_val:.2f}%)"
    )
    typer.echo(f"results: {result.out / 'results.json'}  metrics: {result.out / 'metrics.csv'}  model: {result.out / 'best.pt'}")
