"""``fsfer episode-train``: train a few-shot method on a protocol's base classes, then test on its novel ones."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from fsfer.cli.run_options import config_from_options, resume_changes, run_options
from fsfer.cli.threads import ThreadsOption, torch_threads
from fsfer.engine.config import RunConfig

HELP = "Train a few-shot method episodically (default: CRN on SynthFER, synth-basic-to-compound)."
O = run_options(RunConfig())


def episode_train(
    config: O.config = None,
    data: O.data = None,
    protocol: O.protocol = None,
    base_classes: O.base_classes = None,
    val_classes: O.val_classes = None,
    novel_classes: O.novel_classes = None,
    method: Annotated[Optional[str], typer.Option("--method", help="crn, relation, protonet, matching, cosine, simpleshot, maml, anil.", show_default="crn")] = None,
    method_option: O.method_option = None,
    backbone: O.backbone = None,
    backbone_option: O.backbone_option = None,
    weights: O.weights = None,
    init: Annotated[Optional[str], typer.Option("--init", help="Start the embedder from an fsfer checkpoint (e.g. PRETRAIN/best.pt of `fsfer pretrain`), then fine-tune episodically.")] = None,
    n_way: Annotated[Optional[int], typer.Option("--n-way", help="Training ways.", show_default="the protocol's setting, else 5")] = None,
    k_shot: Annotated[Optional[int], typer.Option("--k-shot", help="Training shots.", show_default="the protocol's setting, else 1")] = None,
    q_query: Annotated[Optional[int], typer.Option("--q-query", help="Training queries per class.", show_default="the protocol's setting, else 5")] = None,
    test_way: O.test_way = None,
    test_shot: O.test_shot = None,
    test_query: O.test_query = None,
    disjoint_subjects: O.disjoint_subjects = None,
    allow_small: O.allow_small = None,
    episodes: Annotated[Optional[int], typer.Option("--episodes", help="Training episodes.", show_default="1000")] = None,
    lr: O.lr = None,
    optimizer: O.optimizer = None,
    weight_decay: O.weight_decay = None,
    scheduler: O.scheduler = None,
    step_size: O.step_size = None,
    gamma: O.gamma = None,
    grad_clip: O.grad_clip = None,
    augment: O.augment = None,
    image_size: O.image_size = None,
    device: O.device = None,
    amp: O.amp = None,
    channels_last: O.channels_last = None,
    store_on_device: O.store_on_device = None,
    seed: O.seed = None,
    val_every: Annotated[Optional[int], typer.Option("--val-every", help="Validate every N episodes.", show_default="100")] = None,
    val_episodes: O.val_episodes = None,
    save_every: Annotated[Optional[int], typer.Option("--save-every", help="Write last.pt every N episodes.", show_default="100")] = None,
    test_episodes: O.test_episodes = None,
    out: Annotated[Optional[str], typer.Option("--out", help="Run folder.", show_default="runs/<protocol>-<method>-<backbone>-<N>w<K>s")] = None,
    resume: O.resume = False,
    force: O.force = False,
    tensorboard: O.tensorboard = None,
    quiet: O.quiet = False,
    threads: ThreadsOption = None,
) -> None:
    """Train on base-class episodes, validate on a fixed validation set, test the best model on novel classes.

    At the end the run folder also gets its report (curves.png, confusion.png, per_class.png, report.md).
    """
    from fsfer.engine.train import train

    given: dict[str, Any] = {
        "data": data, "protocol": protocol, "base_classes": base_classes, "val_classes": val_classes,
        "novel_classes": novel_classes, "method": method, "method_option": method_option, "backbone": backbone,
        "backbone_option": backbone_option, "weights": weights, "init": init,
        "n_way": n_way, "k_shot": k_shot, "q_query": q_query, "test_way": test_way, "test_shot": test_shot,
        "test_query": test_query, "disjoint_subjects": disjoint_subjects, "allow_small": allow_small, "episodes": episodes,
        "lr": lr, "optimizer": optimizer, "weight_decay": weight_decay, "scheduler": scheduler, "step_size": step_size,
        "gamma": gamma, "grad_clip": grad_clip, "augment": augment, "image_size": image_size,
        "device": device, "amp": amp, "channels_last": channels_last, "store_on_device": store_on_device, "tensorboard": tensorboard, "seed": seed, "val_every": val_every,
        "val_episodes": val_episodes, "save_every": save_every, "test_episodes": test_episodes, "out": out,
    }
    changes = resume_changes(config, given) if resume else None
    cfg = config_from_options(None if resume else config, {"out": out} if resume else given)
    with torch_threads(threads):
        result = train(cfg, resume=resume, force=force, progress=not quiet, changes=changes, report=True)
    print_outcome(result, "episode-train")


def print_outcome(result, kind: str, head: str = "") -> None:
    """The test line (with the episode shape and the subject rule), any short-query note, and where the files are."""
    for note in result.notes:
        typer.echo(f"fsfer: note: {note}", err=True)
    if result.test is None:
        return
    t = result.test
    people = "subject-disjoint" if result.disjoint_subjects else "subjects not kept apart"
    what = f"frozen embedder + {head}, " if head else ""
    typer.echo(
        f"novel classes, {what}{t.n_way}-way {t.k_shot}-shot {t.q_query}-query, {t.episodes} episodes ({people}): "
        f"accuracy {100 * t.accuracy:.2f}% +- {100 * t.ci95:.2f}% (best validation {100 * result.best_val:.2f}%)"
    )
    typer.echo(f"results: {result.out / 'results.json'}  report: {result.out / 'report.md'}  model: {result.out / 'best.pt'}")
