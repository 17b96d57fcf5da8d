r"""Generic image folders: ``ROOT/<class>/*.png``, optionally below one level of split folders.

The torchvision ``ImageFolder`` convention, as used for many FER datasets that are
shared as class folders (e.g. KDEF, Oulu-CASIA exports, custom collections).
Class names are folder names; emotion names are made canonical with
:func:`fsfer.emotions.normalise` (``Happy`` -> ``happiness``), any other name is
kept as it is. When every top-level folder is a split name (train, val, valid,
validation, test, in any case) the layout is ``ROOT/<split>/<class>/...``.
An optional ``ROOT/manifest.csv`` with columns ``path`` (relative to ROOT) and
``subject`` and/or ``split`` fills those columns (as ``fsfer synth`` writes it, so a
rendered SynthFER folder keeps its subject-disjoint splits); its action-unit intensity
columns ``au1`` ... ``au26`` (any ``auN``) are carried into the records as floats
(NaN where an image is not listed or the cell is empty), for ``fsfer probe``.

Subjects can also come from file names: ``subject=REGEX`` (data spec
``folder:ROOT?subject=^(S\d+)_`` for CK+-style ``S005_001_00000011.png``, or
``^([A-Z]{2})\.`` for JAFFE-style ``KA.AN1.39.tiff``) is searched (``re.search``) in
each image's file name; its first group, or the whole match when it has no group,
is the subject. Where both are given, the manifest's non-empty subject wins for the
images it lists; the pattern must match every other image.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from fsfer.datasets.base import IMAGE_EXTENSIONS, Format, make_records, require_dir
from fsfer.emotions import normalise
from fsfer.errors import DataError, SpecError

#: Split folder names (lower case) -> split.
SPLIT_FOLDERS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
MANIFEST = "manifest.csv"
#: Manifest columns of action-unit intensities (``au1``, ``au12``, ...), carried into the records.
AU_COLUMN = re.compile(r"^au\d+$")


def _dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_below(folder: Path) -> list[Path]:
    """Image files in ``folder`` and its subfolders (hidden ones skipped), in sorted order."""
    found: list[Path] = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(here) / f
            for f in sorted(files)
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS
        ]
    return found


def _split_folders(base: Path) -> list[tuple[Path, str]]:
    """``[(folder, split)]``: the split folders, or ``[(base, "train")]`` for a flat class layout."""
    tops = _dirs(base)
    splits = [d for d in tops if d.name.lower() in SPLIT_FOLDERS]
    if not splits:
        return [(base, "train")]
    others = [d.name for d in tops if d.name.lower() not in SPLIT_FOLDERS]
    if others:
        raise DataError(
            f"{base}: mixes split folders ({', '.join(d.name for d in splits)}) with other folders "
            f"({', '.join(others)}); expected either ROOT/<class>/ or ROOT/<split>/<class>/, not both"
        )
    seen: dict[str, str] = {}
    for d in splits:
        split = SPLIT_FOLDERS[d.name.lower()]
        if split in seen:
            raise DataError(
                f"{base}: folders {seen[split]} and {d.name} are both the {split} split; merge them into one"
            )
        seen[split] = d.name
    return [(d, SPLIT_FOLDERS[d.name.lower()]) for d in splits]


def _manifest(path: Path, items: set[str]) -> dict[str, dict[str, Any]]:
    """``{item: {"subject": ..., "split": ..., "au1": 0.4, ...}}`` from ``manifest.csv``.

    Columns: ``path`` (relative to the root) and ``subject`` and/or ``split``
    (train, val, test or an alias of :data:`SPLIT_FOLDERS`), and any ``auN`` intensity
    columns (numbers); an empty cell says nothing.
    """
    found: dict[str, dict[str, Any]] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        names = [n.strip() for n in reader.fieldnames or []]
        columns = [c for c in ("subject", "split") if c in names]
        aus = [c for c in names if AU_COLUMN.match(c)]
        faces = {"source", "face"} <= set(names)  # written by `fsfer faces`: boxes, no subjects or splits
        if "path" not in names or not (columns or aus or faces):
            raise DataError(
                f"{path}, line 1: expected a header with columns path,subject and/or path,split (path relative to "
                f"{path.parent}), found {','.join(names) or 'an empty file'}"
            )
        reader.fieldnames = names
        for rec in reader:
            line_no = reader.line_num
            rel = (rec["path"] or "").strip().replace("\\", "/").removeprefix("./")
            if not rel:
                continue
            if rel not in items:
                raise DataError(
                    f"{path}, line {line_no}: {rel} is not an image of {path.parent} "
                    f"(expected a path relative to it such as <class>/<file>.png); fix the line or restore the image"
                )
            entry: dict[str, Any] = {c: (rec[c] or "").strip() or None for c in columns}
            for c in aus:
                cell = (rec[c] or "").strip()
                try:
                    entry[c] = float(cell) if cell else None
                except ValueError:
                    raise DataError(
                        f"{path}, line {line_no}: {c} of {rel} is {cell!r}, not a number; write an intensity such as 0.5 "
                        "or leave the cell empty"
                    ) from None
            split = entry.get("split")
            if split is not None:
                if split.lower() not in SPLIT_FOLDERS:
                    raise DataError(
                        f"{path}, line {line_no}: split {split!r} of {rel} is not one of train, val, test"
                    )
                entry["split"] = SPLIT_FOLDERS[split.lower()]
            if rel in found and found[rel] != entry:
                raise DataError(f"{path}, line {line_no}: {rel} is listed again with another subject or split; keep one line")
            found[rel] = entry
    return found


def _subject_pattern(text: str) -> re.Pattern[str] | None:
    """The compiled ``subject=REGEX`` option, or ``None`` when it is empty."""
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as err:
        raise SpecError(
            f"folder: option subject={text!r} is not a valid regular expression ({err}); "
            r"write one that finds the subject in a file name, such as subject=^(S\d+)_"
        ) from None


def _subject_of(name: str, pattern: re.Pattern[str]) -> str | None:
    """The subject ``pattern`` finds in the file name ``name`` (first group, else the whole match)."""
    found = pattern.search(name)
    if found is None:
        return None
    return (found.group(1) if pattern.groups else found.group(0)) or None


def _subjects_from_names(rows: list[dict[str, Any]], pattern: re.Pattern[str], manifest: Path) -> None:
    """Fill the subject of rows that have none from their file names; DataError names the first misfit."""
    missing: list[str] = []
    for r in rows:
        if r.get("subject") is None:
            r["subject"] = _subject_of(os.path.basename(r["path"]), pattern)
            if r["subject"] is None:
                missing.append(r["path"])
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(
            f"{missing[0]}: file name does not match subject={pattern.pattern!r}{more}; fix the pattern "
            f"(searched in the file name; its first group is the subject) or list the subject in {manifest}"
        )


def read(root: str, *, subject: str = "") -> pd.DataFrame:
    """Records of a class-folder dataset (split from split folders, else ``train``).

    ``subject``: a regular expression giving each image's subject from its file name;
    a non-empty subject in ``manifest.csv`` wins over it for the images listed there.
    """
    pattern = _subject_pattern(subject)
    base = require_dir(root, "a folder of class folders: ROOT/<class>/*.png or ROOT/<split>/<class>/*.png")
    top = os.path.abspath(base)
    rows: list[dict[str, Any]] = []
    folders = _split_folders(base)
    for folder, split in folders:
        for class_dir in _dirs(folder):
            label = normalise(class_dir.name)
            for image in _images_below(class_dir):
                rel = image.relative_to(base).as_posix()
                rows.append({"item": rel, "path": os.path.join(top, rel), "label": label, "split": split})
    if not rows:
        raise DataError(
            f"{base}: no images found; expected ROOT/<class>/*.png (or .jpg, ...) or ROOT/<split>/<class>/*.png"
        )
    manifest = base / MANIFEST
    au_columns: list[str] = []
    if manifest.is_file():
        listed = _manifest(manifest, {r["item"] for r in rows})
        au_columns = sorted({c for entry in listed.values() for c in entry if AU_COLUMN.match(c)}, key=lambda c: int(c[2:]))
        split_folders = folders[0][0] != base
        for r in rows:
            entry = listed.get(r["item"], {})
            r["subject"] = entry.get("subject")
            r.update({c: entry.get(c) for c in au_columns})
            split = entry.get("split")
            if split is not None and split != r["split"]:
                if split_folders:
                    raise DataError(
                        f"{manifest}: {r['item']} lies in the {r['split']} folder but the manifest says {split}; "
                        "fix the manifest or move the image"
                    )
                r["split"] = split
    if pattern is not None:
        _subjects_from_names(rows, pattern, manifest)
    df = make_records(rows, source="folder", root=top)
    # pandas >= 3 infers a string dtype for a column of str and None, whose missing value is NaN: keep None.
    df["subject"] = df["subject"].astype(object).where(df["subject"].notna(), None)
    for c in au_columns:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


FORMATS: tuple[Format, ...] = (
    Format(
        name="folder",
        layout=r"""ROOT/<class>/*.png|jpg|...  (split train), or ROOT/<split>/<class>/... with split folders
  train, val|valid|validation, test (any case); emotion class names are made canonical
  optional ROOT/manifest.csv with columns path (relative to ROOT), subject and/or split
  ?subject=REGEX: subject from each file name (first group), e.g. ^(S\d+)_ or ^([A-Z]{2})\.;
  the manifest's subjects win where both are given""",
        read=read,
        options={
            "subject": "regular expression searched in each file name; its first group (or the whole match) "
            "is the subject (default: none; manifest.csv subjects win)",
        },
    ),
)
