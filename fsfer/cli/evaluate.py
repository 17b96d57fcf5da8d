"""``fsfer evaluate``: a checkpoint on a fixed episode set (a CSV) or on freshly drawn seeded episodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = "Evaluate a checkpoint: mean accuracy, 95% CI, per-class accuracy, confusion matrix."


def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A best.pt or last.pt written by `fsfer episode-train` or `fsfer pretrain`, or the run folder holding it.")],
    method: Annotated[Optional[str], typer.Option("--method", help="Score the checkpoint's embedder with this head (protonet, cosine, simpleshot, ...); default: the run's own method (a pretraining run's validation head).")] = None,
    data: Annotated[Optional[list[str]], typer.Option("--data", help="Data spec(s) (default: the run's own). With an episode file, any data holding its items: no protocol needed.")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Protocol to draw from (default: the run's own).")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="base, val or novel (default novel).")] = None,
    episodes: Annotated[Optional[str], typer.Option("--episodes", help="An episode CSV file, or a number of episodes to draw (default: the run's own test_episodes.csv beside the checkpoint, else 600 drawn).")] = None,
    n_way: Annotated[Optional[int], typer.Option("--n-way", help="Default: the run's test ways.")] = None,
    k_shot: Annotated[Optional[int], typer.Option("--k-shot", help="Default: the run's test shots.")] = None,
    q_query: Annotated[Optional[int], typer.Option("--q-query", help="Default: the run's test queries.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of drawn episodes (default 0).")] = None,
    disjoint_subjects: Annotated[Optional[bool], typer.Option("--disjoint-subjects/--no-disjoint-subjects", help="Drawn episodes keep each class's support subjects out of its query (default: on whenever every image has a subject).")] = None,
    allow_small: Annotated[Optional[bool], typer.Option("--allow-small/--no-allow-small", help="Let a small class give a smaller query (default: the run's).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "auto",
    compose: Annotated[bool, typer.Option("--compose", help="Zero-shot compounds: each compound class composed from images of its two basic components (Du et al. 2014), no compound example in the support; printed beside the ordinary K-shot result on the same queries.")] = False,
    compose_weights: Annotated[str, typer.Option("--compose-weights", help="mean of the two components, or au: weighted by the AUs each shares with the compound.")] = "mean",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
    confusion: Annotated[Optional[Path], typer.Option("--confusion", help="Also draw the row-normalised confusion matrix to this PNG.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Replay an episode file (every method sees the same tasks) or draw seeded episodes from a protocol split.

    With no --episodes and no option that draws, the run's own test_episodes.csv is replayed, which reproduces
    its results.json. `--data SPEC --episodes FILE.csv` replays a file over any data holding its items (transfer).
    """
    from fsfer.engine.evaluate_run import evaluate_checkpoint

    with torch_threads(threads):
        run = evaluate_checkpoint(
            checkpoint, data=data, protocol=protocol, split=split, episodes=episodes, n_way=n_way, k_shot=k_shot,
            q_query=q_query, seed=seed, disjoint_subjects=disjoint_subjects, allow_small=allow_small, method=method, compose=compose,
            compose_weights=compose_weights, device=device,
            progress=not (as_json or quiet),
        )
    if confusion is not None:
        from fsfer.report import draw_confusion

        draw_confusion(run.result.classes, run.result.confusion, confusion, title=f"{run.result.n_way}-way "
                       f"{run.result.k_shot}-shot, {run.result.episodes} episodes")
    if as_json:
        typer.echo(json.dumps(run.to_json()))
        return
    result = run.result
    where = run.episodes_file or "drawn"
    people = "subject-disjoint" if run.disjoint_subjects else "subjects not kept apart"
    typer.echo(
        f"{result.episodes} episodes ({where}; {people}), {result.n_way}-way {result.k_shot}-shot {result.q_query}-query: "
        f"accuracy {100 * result.accuracy:.2f}% +- {100 * result.ci95:.2f}% (95% CI)"
    )
    if run.ordinary is not None:
        o = run.ordinary
        typer.echo(f"composed from {result.k_shot} basic image(s) per component ({run.compose_weights}), no compound "
                   f"example; the same queries with {o.k_shot} real compound shot(s): {100 * o.accuracy:.2f}% +- "
                   f"{100 * o.ci95:.2f}%")
    width = max(len(c) for c in result.classes)
    typer.echo(f"per class: accuracy, then the confusion matrix row (true class; predicted columns in this order)")
    for name, row in zip(result.classes, result.confusion):
        acc = result.per_class.get(name)
        cell = f"{100 * acc:6.2f}%" if acc is not None else "      -"
        typer.echo(f"  {name:{width}s} {cell}  " + " ".join(f"{n:4d}" for n in row))
    if confusion is not None:
        typer.echo(f"confusion matrix: {confusion}")
