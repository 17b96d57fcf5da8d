"""``fsfer report``: a run folder's training curves, confusion matrix, per-class accuracy and report.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

HELP = "Draw a run's report: training curves, confusion matrix, per-class accuracy and a report.md."


def report(
    run: Annotated[Path, typer.Argument(help="A run folder of `fsfer episode-train` or `fsfer pretrain` (or a checkpoint inside one).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the pictures and report.md (default: the run folder).")] = None,
) -> None:
    """Write curves.png, confusion.png, per_class.png and report.md; an unfinished run gets the curves and report.md."""
    from fsfer.report import write_report

    written = write_report(run, out)
    for path in written.files.values():
        typer.echo(f"wrote {path}")
