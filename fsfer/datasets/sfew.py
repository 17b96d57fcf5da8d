"""SFEW 2.0, Static Facial Expressions in the Wild (frames of movies).

Dhall, Goecke, Lucey & Gedeon, "Static facial expression analysis in tough
conditions: data, evaluation protocol and benchmark", ICCV Workshops 2011.

Layout: ``Train/<Class>/*.png`` and ``Val/<Class>/*.png``; ``Test`` is unlabelled
and not read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from fsfer.datasets.base import Format, list_images, make_records, require_dir
from fsfer.errors import DataError

#: SFEW class folders -> canonical names.
SFEW_LABELS: dict[str, str] = {
    "Angry": "anger",
    "Disgust": "disgust",
    "Fear": "fear",
    "Happy": "happiness",
    "Neutral": "neutral",
    "Sad": "sadness",
    "Surprise": "surprise",
}
#: Split folders -> split (Test is unlabelled and ignored).
SFEW_SPLITS: dict[str, str] = {"Train": "train", "Val": "val"}

_BY_LOWER = {k.lower(): v for k, v in SFEW_LABELS.items()}


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read(root: str) -> pd.DataFrame:
    """Records of SFEW 2.0; root = the folder holding ``Train/`` and ``Val/`` (folder names in any case)."""
    base = require_dir(root, "the SFEW 2.0 folder holding Train/<Class>/ and Val/<Class>/ (write sfew:/path/to/SFEW_2)")
    top = os.path.abspath(base)
    splits = {p.name.lower(): p for p in _subfolders(base)}
    wanted = {name.lower(): split for name, split in SFEW_SPLITS.items()}
    if not any(name in splits for name in wanted):
        raise DataError(
            f"{base}: holds no Train/ or Val/ folder; expected the SFEW 2.0 layout Train/<Class>/*.png and "
            f"Val/<Class>/*.png (classes {', '.join(SFEW_LABELS)})"
        )
    rows: list[dict[str, Any]] = []
    for name, split in wanted.items():
        if name not in splits:
            continue
        for class_dir in _subfolders(splits[name]):
            label = _BY_LOWER.get(class_dir.name.lower())
            if label is None:
                raise DataError(
                    f"{class_dir}: unexpected class folder; expected the SFEW 2.0 classes {', '.join(SFEW_LABELS)} "
                    f"(move other folders out of {class_dir.parent})"
                )
            for image in list_images(class_dir):
                rel = image.relative_to(base).as_posix()
                rows.append({"item": rel, "path": os.path.join(top, rel), "label": label, "split": split})
    if not rows:
        raise DataError(f"{base}: no images in Train/<Class>/ or Val/<Class>/; expected SFEW 2.0 images (*.png)")
    return make_records(rows, source="sfew", root=top)


FORMATS: tuple[Format, ...] = (
    Format(
        name="sfew",
        layout="""ROOT = the SFEW 2.0 folder
  Train/<Class>/*.png -> train, Val/<Class>/*.png -> val (Test/ is unlabelled: ignored)
  classes Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise""",
        read=read,
    ),
)
