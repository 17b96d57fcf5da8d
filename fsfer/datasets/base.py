"""Records: the table every reader returns, and the small helpers readers share.

A Records table (pandas) has one row per face, with the columns of
:data:`COLUMNS`:

``item``     an id stable across machines (path relative to the dataset root, plus
             ``#face<k>`` or ``#row<k>`` where one file holds several faces)
``path``     absolute path of the image file, or ``None`` for inline pixels
``box``      ``(left, top, right, bottom)`` face box in pixels, or ``None``
``pixels``   inline pixels that the format's ``decode`` understands (FER2013: the CSV's
             space-separated gray values, parsed only when decoded), or ``None``
``label``    canonical class name (:mod:`fsfer.emotions`), or the folder name
``split``    official split: ``train``, ``val`` or ``test``
``subject``  subject id where the dataset has one, else ``None``
``source``   the format name that read the row (``rafdb``, ``synth``, ...)
``targets``  ``{class: probability}`` soft labels (FERPlus modes) or ``None``

``df.attrs`` holds ``format`` and ``root``. Listing never decodes an image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from fsfer.errors import DataError

COLUMNS: tuple[str, ...] = ("item", "path", "box", "pixels", "label", "split", "subject", "source", "targets")
SPLITS: tuple[str, ...] = ("train", "val", "test")
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True)
class Format:
    """One supported on-disk format.

    ``read(root, **options)`` returns Records; ``root`` is the text after
    ``FORMAT:`` in a data spec (a folder, a file, or for ``synth`` a domain).
    ``decode(row)`` turns one record into an ``uint8`` array ``[H, W, 3]`` when
    the generic path/box/pixels decoding of the image store does not apply.
    """

    name: str
    layout: str
    read: Callable[..., pd.DataFrame]
    decode: Callable[[Any], np.ndarray] | None = None
    options: dict[str, str] = field(default_factory=dict)


def make_records(rows: Iterable[dict[str, Any]], *, source: str, root: str | Path) -> pd.DataFrame:
    """A Records table from row dicts; missing optional columns become ``None``."""
    df = pd.DataFrame(list(rows))
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["source"] = source
    df = df[list(COLUMNS) + [c for c in df.columns if c not in COLUMNS]]
    if len(df):
        df = df.astype({"item": str, "label": str, "split": str})
        # optional columns hold None where a value is absent; pandas 3 would turn it into NaN
        optional = [c for c in ("path", "box", "pixels", "subject", "targets") if c in df.columns]
        df[optional] = df[optional].astype(object)
        df[optional] = df[optional].where(pd.notna(df[optional]), None)
    df = df.reset_index(drop=True)
    df.attrs["format"] = source
    df.attrs["root"] = str(root)
    return df


def require_dir(root: str | Path, what: str) -> Path:
    """``root`` as a Path, or a DataError naming it and what it should hold."""
    path = Path(root).expanduser()
    if not str(root):
        raise DataError(f"no dataset root given: write the spec as FORMAT:ROOT, where ROOT is {what}")
    if not path.is_dir():
        raise DataError(f"{path}: no such folder; expected {what}")
    return path


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or a DataError naming it and what it should be."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: no such file; expected {what}")
    return p


def check_listed_images(paths: Iterable[str], listed_in: Path) -> None:
    """DataError naming the first listed image absent from disk (and how many are)."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(f"{missing[0]}: image listed in {listed_in} is missing{more}; restore the dataset's images")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (by extension), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
