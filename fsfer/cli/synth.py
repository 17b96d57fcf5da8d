"""``fsfer synth``: render the SynthFER dataset to a folder, or a contact sheet to look at.

``fsfer synth OUT_DIR`` writes ``OUT_DIR/<category>/<id>.png`` and
``OUT_DIR/manifest.csv``; ``--preview sheet.png`` also draws a contact sheet (one
row per category over the first 6 subjects, or ``--preview-subjects N``). With
``--preview`` and no OUT_DIR only the sheet is drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from tqdm import tqdm

from fsfer.errors import ConfigError

HELP = "Render SynthFER, faces drawn from facial action units, to OUT_DIR/<category>/*.png + manifest.csv."


def synth(
    out_dir: Optional[Path] = typer.Argument(None, metavar="OUT_DIR", help="New or empty folder to write; optional with --preview."),
    domain: str = typer.Option("both", "--domain", help="lab, wild or both."),
    subjects: int = typer.Option(40, "--subjects", help="Number of subjects (identities)."),
    per_subject: int = typer.Option(3, "--per-subject", help="Images per subject and category (and domain)."),
    size: int = typer.Option(64, "--size", help="Square image size in pixels, 32 to 224."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same options and seed give the same bytes."),
    classes: str = typer.Option("all", "--classes", help="basic (7), compound (15) or all (22)."),
    contempt: bool = typer.Option(False, "--contempt", help="Add contempt (one-sided AU12 + AU14)."),
    preview: Optional[Path] = typer.Option(
        None, "--preview", help="Also draw a contact sheet PNG here (only the sheet when OUT_DIR is left out)."
    ),
    preview_subjects: Optional[int] = typer.Option(
        None, "--preview-subjects", min=1, help="Subjects the --preview sheet shows (default 6; more make a wider sheet)."
    ),
) -> None:
    """Render SynthFER to a folder with a manifest, and/or a contact sheet to judge the faces by eye."""
    from fsfer.synth.options import check_options
    from fsfer.synth.writer import SHEET_SUBJECTS, check_out_dir, save_contact_sheet, write_folder

    options = check_options(
        domain, subjects=subjects, per_subject=per_subject, size=size, seed=seed, classes=classes, contempt=contempt
    )
    if out_dir is None and preview is None:
        raise ConfigError("nothing to write: give OUT_DIR (a new or empty folder), --preview SHEET.png, or both")
    if out_dir is not None:
        check_out_dir(out_dir)
    if preview_subjects is not None and preview is None:
        raise ConfigError("--preview-subjects sizes the contact sheet: add --preview SHEET.png, or drop it")
    if preview is not None and (not preview.expanduser().parent.is_dir() or preview.suffix.lower() != ".png"):
        raise ConfigError(f"{preview}: --preview needs a .png file name in an existing folder")
    done = []
    if out_dir is not None:
        with tqdm(total=options.n_images, desc="synth", unit="img", file=sys.stderr, disable=None) as bar:
            manifest = write_folder(out_dir, options, tick=bar.update)
        splits = manifest["split"].value_counts().to_dict()
        done.append(
            f"wrote {len(manifest)} images of {len(options.categories)} categories, {options.subjects} subjects "
            f"({', '.join(f'{k} {splits.get(k, 0)}' for k in ('train', 'val', 'test'))} images) to {out_dir}"
        )
    shown = min(preview_subjects or SHEET_SUBJECTS, options.subjects)
    if preview is not None:
        save_contact_sheet(preview, options, shown)
        done.append(f"preview sheet {preview}")
    typer.echo("; ".join(done))
    if preview is not None and shown < options.subjects:
        typer.echo(
            f"the sheet shows {shown} of {options.subjects} subjects (image 0 of each, to stay small enough to look at); "
            f"--preview-subjects {options.subjects} draws them all"
        )
