"""``fsfer episodes``: make fixed evaluation episode sets and look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Fixed evaluation episode sets (CSV): make and show.", no_args_is_help=True)

DATA_HELP = "Data spec FORMAT:ROOT[?key=value,...]; repeat for protocols over several datasets (default: the protocol's own, synth)."
PROTOCOL_HELP = "Protocol name (episodes/NAME.toml) or PATH.toml."


def split_classes(text: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (None stays None)."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def resolve_protocol(protocol: str | None, base: str | None, val: str | None, novel: str | None, default: str):
    """The protocol named, or one built from class lists (which need base and novel)."""
    from fsfer.errors import ConfigError
    from fsfer.protocols import load_protocol, protocol_from_classes

    if base or novel or val:
        if protocol:
            raise ConfigError("give either --protocol or --base-classes/--novel-classes, not both")
        if not (base and novel):
            raise ConfigError("--base-classes and --novel-classes go together (and optionally --val-classes)")
        return protocol_from_classes(split_classes(base), split_classes(novel), split_classes(val))
    return load_protocol(protocol or default)


@app.command("make")
def make(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (columns episode,role,class,item).")],
    data: Annotated[Optional[list[str]], typer.Option("--data", help=DATA_HELP)] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help=PROTOCOL_HELP)] = None,
    base_classes: Annotated[Optional[str], typer.Option("--base-classes", help="Comma-separated base classes.")] = None,
    val_classes: Annotated[Optional[str], typer.Option("--val-classes", help="Comma-separated validation classes.")] = None,
    novel_classes: Annotated[Optional[str], typer.Option("--novel-classes", help="Comma-separated novel classes.")] = None,
    split: Annotated[str, typer.Option("--split", help="Protocol part to draw from: base, val or novel.")] = "novel",
    n_way: Annotated[int, typer.Option("--n-way", min=1)] = 5,
    k_shot: Annotated[int, typer.Option("--k-shot", min=1)] = 1,
    q_query: Annotated[int, typer.Option("--q-query", min=1)] = 15,
    episodes: Annotated[int, typer.Option("--episodes", min=1)] = 600,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    allow_small: Annotated[bool, typer.Option("--allow-small", help="Let small classes give an unbalanced query.")] = False,
    disjoint_subjects: Annotated[Optional[bool], typer.Option("--disjoint-subjects/--no-disjoint-subjects", help="Keep each class's support subjects out of its query (default: on whenever every image has a subject).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out file.")] = False,
) -> None:
    """Draw a fixed, seeded episode set from a protocol split and write it as CSV (no image is decoded)."""
    from fsfer.episodes import EpisodeSampler, save_episodes
    from fsfer.errors import ConfigError
    from fsfer.protocol_data import load_protocol_data

    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists; pass --force to overwrite it or choose another --out")
    proto = resolve_protocol(protocol, base_classes, val_classes, novel_classes, "synth-basic-to-compound")
    if split not in ("base", "val", "novel"):
        raise ConfigError(f"--split {split!r}: use base, val or novel")
    pdata = load_protocol_data(proto, data, decode=False, require_subjects=bool(disjoint_subjects))
    sampler = EpisodeSampler(
        pdata.store, pdata.classes(split), n_way, k_shot, q_query, seed,
        episodes=episodes, indices=pdata.rows[split], allow_small=allow_small, disjoint_subjects=disjoint_subjects,
    )
    count = save_episodes(out, pdata.store, (sampler.index(i) for i in range(len(sampler))))
    people = "subject-disjoint" if sampler.disjoint else "subjects not kept apart"
    if not sampler.disjoint and disjoint_subjects is None:
        people += ": the data has no subjects"
    typer.echo(f"wrote {count} episodes ({n_way}-way {k_shot}-shot {q_query}-query, {proto.name}/{split}, seed {seed}, {people}) to {out}")


@app.command("show")
def show(
    file: Annotated[Path, typer.Argument(help="An episode CSV made by `fsfer episodes make`.")],
    preview: Annotated[Optional[Path], typer.Option("--preview", help="Draw one episode's support row and query grid to this PNG.")] = None,
    episode: Annotated[int, typer.Option("--episode", help="Which episode to draw.")] = 0,
    data: Annotated[Optional[list[str]], typer.Option("--data", help="Data the file was made from (for --preview).")] = None,
    image_size: Annotated[int, typer.Option("--image-size")] = 64,
) -> None:
    """Summarise an episode file; with --preview, draw one episode (decoding only its images)."""
    from fsfer.episodes.fixed import summarise_file

    summary = summarise_file(file)
    typer.echo(
        f"{file}: {summary['episodes']} episodes, {summary['n_way']}-way {summary['k_shot']}-shot "
        f"{summary['q_query']}-query, {summary['items']} distinct images"
    )
    typer.echo("classes: " + ", ".join(f"{c} ({n})" for c, n in summary["classes"].items()))
    if preview is not None:
        from fsfer.episodes.preview import draw_episode, load_episode

        store, index = load_episode(file, data or ["synth"], episode, image_size)
        draw_episode(store, index).save(preview)
        typer.echo(f"drew episode {episode} ({len(store)} images decoded) to {preview}")
