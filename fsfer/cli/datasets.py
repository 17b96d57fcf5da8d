"""``fsfer datasets``: the supported formats and what a dataset on disk holds."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

app = typer.Typer(help="Dataset formats and what a dataset holds.", no_args_is_help=True)

DATA_HELP = "Data spec FORMAT:ROOT[?key=value,...], e.g. rafdb:/data/RAF-DB/basic, fer2013:/data/fer2013.csv, synth."


@app.command("formats")
def formats() -> None:
    """List each supported format with the layout it expects."""
    from fsfer.datasets import all_formats

    for fmt in all_formats().values():
        typer.echo(f"{fmt.name}")
        for line in fmt.layout.strip().splitlines():
            typer.echo(f"    {line}")


def summarise(records: Any) -> dict[str, Any]:
    """The ``datasets info`` summary of a Records table (no image is decoded)."""
    from fsfer.emotions import sort_classes

    classes = sort_classes(records["label"].unique().tolist())
    counts = records["label"].value_counts()
    summary: dict[str, Any] = {
        "format": records.attrs.get("format"),
        "root": records.attrs.get("root"),
        "images": int(len(records)),
        "classes": {c: int(counts.get(c, 0)) for c in classes},
        "splits": {},
    }
    for split in ("train", "val", "test"):
        part = records[records["split"] == split]
        if len(part):
            per = part["label"].value_counts()
            summary["splits"][split] = {c: int(per[c]) for c in classes if c in per}
    summary.update(_subject_summary(records, classes))
    return summary


def _subject_summary(records: Any, classes: list[str]) -> dict[str, Any]:
    """Subject counts: total, per class, and images without one (when some lack it); ``{}`` without subjects."""
    known = records[records["subject"].notna()]
    if not len(known):
        return {}
    per_class = known.groupby("label")["subject"].nunique()
    out: dict[str, Any] = {
        "subjects": int(known["subject"].nunique()),
        "subjects_per_class": {c: int(per_class.get(c, 0)) for c in classes},
    }
    if len(known) < len(records):
        out["images_without_subject"] = int(len(records) - len(known))
    return out


@app.command("info")
def info(
    data: Annotated[str, typer.Argument(help=DATA_HELP)] = "synth",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Decode every image; exit 1 if any is unreadable.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar for --verify.")] = False,
) -> None:
    """Number of images, per-class and per-split counts, subjects (and unreadable images with --verify)."""
    from fsfer.datasets import read_records

    records = read_records(data)
    summary = summarise(records)
    status = 0
    if verify:
        from fsfer.store import verify_records

        bad = set(verify_records(records, progress=not (as_json or quiet)))
        unreadable = [p if p is not None else i for i, p in zip(records["item"], records["path"]) if i in bad]
        summary["unreadable"] = unreadable
        status = 1 if unreadable else 0
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        _print_summary(summary)
    if status:
        raise typer.Exit(status)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    # soft_wrap: a long root stays on one line (no breaks inserted when piped); escape: paths may hold [brackets]
    console.print(f"[bold]{summary['format']}[/bold] {escape(str(summary['root']))}: {summary['images']} images"
                  + (f", {summary['subjects']} subjects" if "subjects" in summary else "")
                  + (f" ({summary['images_without_subject']} images without subject)"
                     if "images_without_subject" in summary else ""), soft_wrap=True)  # fmt: skip
    table = Table(show_edge=False)
    splits = list(summary["splits"])
    per_class = summary.get("subjects_per_class")
    table.add_column("class")
    for split in splits:
        table.add_column(split, justify="right")
    table.add_column("all", justify="right")
    if per_class is not None:
        table.add_column("subjects", justify="right")
    for name, n in summary["classes"].items():
        subjects = [str(per_class[name])] if per_class is not None else []
        table.add_row(name, *(str(summary["splits"][s].get(name, 0)) for s in splits), str(n), *subjects)
    console.print(table)
    if "unreadable" in summary:
        bad = summary["unreadable"]
        console.print(escape(f"{len(bad)} unreadable image(s)" + (": " + ", ".join(bad[:10]) if bad else "")), soft_wrap=True)
