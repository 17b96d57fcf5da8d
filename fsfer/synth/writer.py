"""Writing SynthFER to disk: the folder layout, its manifest, and a contact sheet.

The folder layout is ``OUT_DIR/<category>/<domain>_<subject>_<index>.png`` (which
the ``folder`` format reads back) plus ``OUT_DIR/manifest.csv`` with the relative
``path``, ``category``, ``subject``, ``domain``, ``split``, ``index``, ``side`` and
the intensity of every AU. The folder is written beside ``OUT_DIR`` under a
temporary name and renamed at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd
from PIL import Image, ImageDraw

from fsfer.errors import ConfigError
from fsfer.synth.aus import AU_COLUMNS, AUS
from fsfer.synth.catalog import SynthImage, image_aus, image_name, subject_name, subject_splits, synth_images
from fsfer.synth.options import SynthOptions
from fsfer.synth.render import render_image

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "category", "subject", "domain", "split", "index", "side") + AU_COLUMNS


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path; a ConfigError when it exists and is not an empty folder."""
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; name a new or empty folder as OUT_DIR")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"{out}: folder exists and is not empty; name a new or empty folder, or remove it first")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent}: no such folder to write {out.name} into; create it first")
    return out


def manifest_row(image: SynthImage, options: SynthOptions) -> dict[str, object]:
    """The manifest row of ``image`` (its ``path`` relative to the output folder)."""
    name = f"{image.domain}_{image_name(image, options.subjects, options.per_subject)}.png"
    row: dict[str, object] = {
        "path": f"{image.category}/{name}",
        "category": image.category,
        "subject": subject_name(image.subject, options.subjects),
        "domain": image.domain,
        "split": image.split,
        "index": image.index,
        "side": image.side,
    }
    row.update({col: image.aus[au] for col, au in zip(AU_COLUMNS, AUS)})
    return row


def write_folder(out_dir: str | Path, options: SynthOptions, tick: Callable[[], None] | None = None) -> pd.DataFrame:
    """Render every image of ``options`` into ``out_dir`` and return the manifest written there.

    ``tick`` is called once per image written (a progress bar's update).
    """
    out = check_out_dir(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for category in options.categories:
            (tmp / category).mkdir()
        rows = []
        for image in synth_images(options):
            row = manifest_row(image, options)
            Image.fromarray(render_image(image, options.size), "RGB").save(tmp / str(row["path"]))
            rows.append(row)
            if tick is not None:
                tick()
        manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
        manifest.to_csv(tmp / MANIFEST, index=False)
        if out.is_dir():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


#: Subjects a contact sheet shows by default (image 0 of each, per domain): enough to judge the faces by eye.
SHEET_SUBJECTS = 6


def contact_sheet(options: SynthOptions, n_subjects: int = SHEET_SUBJECTS, label_width: int = 150) -> Image.Image:
    """A contact sheet: one row per category, columns over subjects (and domains), labelled.

    Cells show image 0 of the first ``n_subjects`` subjects, lab before wild. The header
    names each domain once over its block of columns and, below it, each column's subject.
    """
    size = options.size
    subjects = list(range(min(n_subjects, options.subjects)))
    splits = subject_splits(options.subjects, options.seed)
    cats = options.categories
    cols = [(d, s) for d in options.domains for s in subjects]
    line = 14  # one header row of text
    header = 2 * line + 2
    sheet = Image.new("RGB", (label_width + len(cols) * size, header + len(cats) * size), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for b, domain in enumerate(options.domains):
        left = label_width + b * len(subjects) * size
        right = left + len(subjects) * size - 1
        draw.text((left + 2, 1), domain, fill=(0, 0, 0))
        draw.line((left + 2, line, right - 2, line), fill=(128, 128, 128))
    for c, (domain, subject) in enumerate(cols):
        draw.text((label_width + c * size + 2, line + 2), subject_name(subject, options.subjects), fill=(0, 0, 0))
    for r, category in enumerate(cats):
        draw.text((4, header + r * size + size // 2 - 5), category, fill=(0, 0, 0))
        for c, (domain, subject) in enumerate(cols):
            aus, side = image_aus(options.seed, domain, category, subject, 0)
            image = SynthImage(options.seed, domain, category, subject, 0, aus, side, splits[subject])
            tile = Image.fromarray(render_image(image, size), "RGB")
            sheet.paste(tile, (label_width + c * size, header + r * size))
    return sheet


def save_contact_sheet(path: str | Path, options: SynthOptions, n_subjects: int = SHEET_SUBJECTS) -> Path:
    """Write :func:`contact_sheet` as a PNG at ``path`` (its folder must exist)."""
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        raise ConfigError(f"{target.parent}: no such folder for the preview sheet; create it first")
    if target.suffix.lower() != ".png":
        raise ConfigError(f"{target}: the preview sheet is a PNG; give a file name ending in .png")
    contact_sheet(options, n_subjects).save(target)
    return target
