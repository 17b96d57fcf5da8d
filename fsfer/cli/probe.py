"""``fsfer probe``: linear AU probes of a checkpoint's frozen embedder, beside a random embedder and raw pixels."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = (
    "Probe a checkpoint's frozen embedder for facial action units: ridge R^2 on AU intensity and logistic "
    "ROC-AUC on AU presence, fitted on training subjects and scored on held-out ones, beside a random "
    "embedder and raw pixels."
)


def _cell(v: float, width: int = 6) -> str:
    return f"{'-':>{width}s}" if math.isnan(v) else f"{v:{width}.2f}"


def probe(
    checkpoint: Annotated[Path, typer.Argument(metavar="CKPT", help="A best.pt or last.pt of `fsfer episode-train` or `fsfer pretrain`, or the run folder holding it.")],
    data: Annotated[str, typer.Option("--data", help="Data with AU truth: a SynthFER spec, or folder:DIR written by `fsfer synth DIR` (its manifest.csv has au1 ... au26).")] = "synth",
    aus: Annotated[Optional[str], typer.Option("--aus", help="AU numbers to probe, e.g. 1,2,4 (default: every AU column that varies).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder to write au_probe.csv and au_probe.png into.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Embed every image (eval mode, global-average-pooled), fit ridge and logistic probes per AU on the training
    subjects (official split, else a seeded subject-disjoint 70/30 split), score them on the held-out subjects, with
    a 95% CI over subjects (bootstrap); the same probes on a random-initialised embedder and on raw pixels."""
    from fsfer.probe import check_out, parse_aus, probe_aus, write_outputs

    wanted = parse_aus(aus)
    check_out(out)
    with torch_threads(threads):
        result = probe_aus(checkpoint, data=data, aus=wanted, progress=not (as_json or quiet))
    written = write_outputs(result, out) if out is not None else {}
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    typer.echo(
        f"AU probe of {result.checkpoint} ({result.kind}, {result.backbone}, {result.image_size} px) on {result.data}: "
        f"fit on {result.train_images} images of {result.train_subjects} subjects, scored on {result.test_images} images "
        f"of {result.test_subjects} held-out subjects ({result.split} split); features: "
        + ", ".join(f"{k} {v}" for k, v in result.features.items())
    )
    width = max([len(a.name) for a in result.aus] + [4])
    typer.echo(f"{'AU':>4s}  {'name':{width}s}  {'R2':>6s} {'random':>6s} {'pixels':>6s}  {'95% CI':>13s}  "
               f"{'AUC':>6s} {'random':>6s} {'pixels':>6s}  {'95% CI':>11s}")
    for a in result.aus:
        ci = f"[{_cell(a.ci95[0], 5)},{_cell(a.ci95[1], 5)}]"
        auc_ci = f"[{_cell(a.auc_ci95[0], 4)},{_cell(a.auc_ci95[1], 4)}]"
        typer.echo(f"{a.au:>4d}  {a.name:{width}s}  {_cell(a.r2)} {_cell(a.r2_random)} {_cell(a.r2_pixels)}  {ci:>13s}  "
                   f"{_cell(a.auc)} {_cell(a.auc_random)} {_cell(a.auc_pixels)}  {auc_ci:>11s}")
    typer.echo(f"{'mean':>4s}  {'':{width}s}  {_cell(result.mean('r2'))} {_cell(result.mean('r2_random'))} "
               f"{_cell(result.mean('r2_pixels'))}  {'':13s}  {_cell(result.mean('auc'))} "
               f"{_cell(result.mean('auc_random'))} {_cell(result.mean('auc_pixels'))}")
    typer.echo("R2: ridge on intensity (lambda = 1 x features); AUC: logistic on presence; CI: 95% over held-out "
               f"subjects ({result.resamples} bootstrap resamples)")
    for path in written.values():
        typer.echo(f"wrote {path}")
