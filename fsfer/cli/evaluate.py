"""``fsfer evaluate``: a checkpoint on a fixed episode set (a CSV) or on freshly drawn seeded episodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = "Evaluate a checkpoint: mean accuracy, 95% CI, per-class accuracy, confusion matrix."


def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A best.pt or last.pt written by `fsfer episode-train`.")],
    data: Annotated[Optional[list[str]], typer.Option("--data", help="Data spec(s) (default: the run's own).")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Protocol (default: the run's own).")] = None,
    split: Annotated[str, typer.Option("--split", help="base, val or novel.")] = "novel",
    episodes: Annotated[str, typer.Option("--episodes", help="An episode CSV file, or a number of episodes to draw.")] = "600",
    n_way: Annotated[Optional[int], typer.Option("--n-way", help="Default: the run's.")] = None,
    k_shot: Annotated[Optional[int], typer.Option("--k-shot", help="Default: the run's.")] = None,
    q_query: Annotated[int, typer.Option("--q-query")] = 15,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Replay an episode file (every method sees the same tasks) or draw seeded episodes from a protocol split."""
    from fsfer.engine.evaluate_run import evaluate_checkpoint

    with torch_threads(threads):
        result = evaluate_checkpoint(
            checkpoint, data=data, protocol=protocol, split=split, episodes=episodes, n_way=n_way, k_shot=k_shot,
            q_query=q_query, seed=seed, device=device, progress=not as_json,
        )
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    typer.echo(
        f"{result.episodes} episodes, {result.n_way}-way {result.k_shot}-shot {result.q_query}-query: "
        f"accuracy {100 * result.accuracy:.2f}% +- {100 * result.ci95:.2f}% (95% CI)"
    )
    for name, acc in result.per_class.items():
        typer.echo(f"  {name:24s} {100 * acc:6.2f}%")
