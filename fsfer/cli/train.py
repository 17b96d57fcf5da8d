"""``fsfer episode-train``: train a few-shot method on a protocol's base classes, then test on its novel ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = "Train a few-shot method episodically (default: CRN on SynthFER, synth-basic-to-compound)."


def episode_train(
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file holding any option below; options given here override it.")] = None,
    data: Annotated[Optional[list[str]], typer.Option("--data", help="Data spec FORMAT:ROOT[?k=v,...]; repeatable (default: the protocol's own, synth).")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Protocol name (episodes/NAME.toml) or PATH.toml.")] = None,
    base_classes: Annotated[Optional[str], typer.Option("--base-classes", help="Comma-separated base classes (instead of --protocol).")] = None,
    val_classes: Annotated[Optional[str], typer.Option("--val-classes", help="Comma-separated validation classes (default: carved from base).")] = None,
    novel_classes: Annotated[Optional[str], typer.Option("--novel-classes", help="Comma-separated novel (test) classes.")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="crn, relation, protonet, matching, cosine, maml, anil.")] = None,
    backbone: Annotated[Optional[str], typer.Option("--backbone", help="Embedder name (see `fsfer models list`).")] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Local state-dict file for the backbone.")] = None,
    n_way: Annotated[Optional[int], typer.Option("--n-way", help="Training ways (default: the protocol's setting, else 5).")] = None,
    k_shot: Annotated[Optional[int], typer.Option("--k-shot", help="Training shots (default: the protocol's setting, else 1).")] = None,
    q_query: Annotated[Optional[int], typer.Option("--q-query", help="Training queries per class (default: the protocol's setting, else 5).")] = None,
    test_way: Annotated[Optional[int], typer.Option("--test-way", help="Ways of the validation and test episodes (default: the protocol's setting, else --n-way).")] = None,
    test_shot: Annotated[Optional[int], typer.Option("--test-shot", help="Shots of the validation and test episodes (default: the protocol's setting, else --k-shot).")] = None,
    test_query: Annotated[Optional[int], typer.Option("--test-query", help="Queries per class of the validation and test episodes (default: the protocol's setting, else 15).")] = None,
    disjoint_subjects: Annotated[Optional[bool], typer.Option("--disjoint-subjects/--no-disjoint-subjects", help="Keep each class's support subjects out of its query (default: on whenever every image has a subject).")] = None,
    allow_small: Annotated[Optional[bool], typer.Option("--allow-small/--no-allow-small", help="Let a class with too few images (or subjects) give a smaller query instead of an error.")] = None,
    episodes: Annotated[Optional[int], typer.Option("--episodes", help="Training episodes.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr")] = None,
    optimizer: Annotated[Optional[str], typer.Option("--optimizer", help="adam or sgd.")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="none, step or cosine.")] = None,
    grad_clip: Annotated[Optional[float], typer.Option("--grad-clip", help="Gradient-norm clip (0 = off).")] = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda or mps.")] = None,
    amp: Annotated[Optional[bool], typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA.")] = None,
    channels_last: Annotated[Optional[bool], typer.Option("--channels-last/--no-channels-last")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed")] = None,
    val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate every N episodes.")] = None,
    val_episodes: Annotated[Optional[int], typer.Option("--val-episodes", help="Size of the fixed validation set.")] = None,
    save_every: Annotated[Optional[int], typer.Option("--save-every", help="Write last.pt every N episodes.")] = None,
    test_episodes: Annotated[Optional[int], typer.Option("--test-episodes", help="Novel-class test episodes at the end.")] = None,
    out: Annotated[Optional[str], typer.Option("--out", help="Run folder (default runs/<protocol>-<method>-<backbone>-<N>w<K>s).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.pt.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the run in --out.")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Train on base-class episodes, validate on a fixed validation set, test the best model on novel classes."""
    from fsfer.engine.config import RunConfig, config_from_dict, load_config
    from fsfer.engine.train import train

    cfg = load_config(config) if config is not None else RunConfig()
    given: dict[str, Any] = {
        "data": data, "protocol": protocol, "base_classes": base_classes, "val_classes": val_classes,
        "novel_classes": novel_classes, "method": method, "backbone": backbone, "weights": weights,
        "n_way": n_way, "k_shot": k_shot, "q_query": q_query, "test_way": test_way, "test_shot": test_shot,
        "test_query": test_query, "disjoint_subjects": disjoint_subjects, "allow_small": allow_small, "episodes": episodes, "lr": lr,
        "optimizer": optimizer, "scheduler": scheduler, "grad_clip": grad_clip, "image_size": image_size,
        "device": device, "amp": amp, "channels_last": channels_last, "seed": seed, "val_every": val_every,
        "val_episodes": val_episodes, "save_every": save_every, "test_episodes": test_episodes, "out": out,
    }
    cfg = config_from_dict({k: v for k, v in given.items() if v is not None}, "command line", base=cfg)
    if base_classes and protocol is None:
        cfg.protocol = ""
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
