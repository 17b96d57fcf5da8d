"""RAF-DB, the Real-world Affective Faces Database: basic and compound subsets.

Li, Deng & Du, "Reliable crowdsourcing and deep locality-preserving learning for
expression recognition in the wild", CVPR 2017.

Both subsets share one layout: ``EmoLabel/list_patition_label.txt`` (sic) lists
``train_00001.jpg 5`` per image, the split is the file-name prefix, and the images
live in ``Image/aligned/<stem>_aligned.jpg`` and ``Image/original/<name>``.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from fsfer.datasets.base import Format, check_listed_images, make_records, require_dir, require_file
from fsfer.errors import DataError, SpecError

#: RAF-DB basic labels 1..7 -> canonical names.
RAFDB_LABELS: dict[int, str] = {
    1: "surprise",
    2: "fear",
    3: "disgust",
    4: "happiness",
    5: "sadness",
    6: "anger",
    7: "neutral",
}
#: RAF-DB compound labels 1..11 -> canonical compound names.
RAFDB_COMPOUND_LABELS: dict[int, str] = {
    1: "happily_surprised",
    2: "happily_disgusted",
    3: "sadly_fearful",
    4: "sadly_angry",
    5: "sadly_surprised",
    6: "sadly_disgusted",
    7: "fearfully_angry",
    8: "fearfully_surprised",
    9: "angrily_surprised",
    10: "angrily_disgusted",
    11: "disgustedly_surprised",
}
LABEL_FILE = "EmoLabel/list_patition_label.txt"
#: File-name prefix -> split.
SPLIT_PREFIXES: dict[str, str] = {"train_": "train", "test_": "test"}
IMAGE_KINDS: tuple[str, ...] = ("aligned", "original")


def _image_relpath(name: str, image: str) -> str:
    """``train_00001.jpg`` -> ``Image/aligned/train_00001_aligned.jpg`` (or ``Image/original/...``)."""
    if image == "aligned":
        stem, ext = os.path.splitext(name)
        return f"Image/aligned/{stem}_aligned{ext}"
    return f"Image/original/{name}"


def _read(root: str, image: str, *, name: str, labels: dict[int, str], folder: str) -> pd.DataFrame:
    if image not in IMAGE_KINDS:
        raise SpecError(f"{name}: option image={image!r} is not one of {', '.join(IMAGE_KINDS)} (write ?image=aligned)")
    base = require_dir(
        root, f"the RAF-DB {folder}/ folder holding EmoLabel/ and Image/ (write {name}:/path/to/RAF-DB/{folder})"
    )
    label_file = require_file(base / LABEL_FILE, f"the RAF-DB label list {LABEL_FILE} inside {base}")
    top = os.path.abspath(base)
    lo, hi = min(labels), max(labels)
    rows: list[dict[str, Any]] = []
    with open(label_file, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise DataError(
                    f"{label_file}, line {line_no}: expected '<image name> <label>' such as 'train_00001.jpg 5', "
                    f"found {line.strip()!r}; fix or restore that line"
                )
            file_name, label = fields[0], int(fields[1])
            if label not in labels:
                raise DataError(
                    f"{label_file}, line {line_no}: label {label} is outside {lo}..{hi} of RAF-DB {folder}; "
                    f"is this the {folder}/ label list?"
                )
            split = next((s for p, s in SPLIT_PREFIXES.items() if file_name.startswith(p)), None)
            if split is None:
                raise DataError(
                    f"{label_file}, line {line_no}: image name {file_name!r} does not start with train_ or test_ "
                    f"(the split is the name's prefix); fix or restore that line"
                )
            rel = _image_relpath(file_name, image)
            rows.append({"item": rel, "path": os.path.join(top, rel), "label": labels[label], "split": split})
    if not rows:
        raise DataError(f"{label_file}: lists no images; expected one line per image such as 'train_00001.jpg 5'")
    check_listed_images((r["path"] for r in rows), label_file)
    return make_records(rows, source=name, root=top)


def read(root: str, *, image: str = "aligned") -> pd.DataFrame:
    """Records of RAF-DB basic (root = the ``basic/`` folder); ``image``: aligned or original."""
    return _read(root, image, name="rafdb", labels=RAFDB_LABELS, folder="basic")


def read_compound(root: str, *, image: str = "aligned") -> pd.DataFrame:
    """Records of RAF-DB compound (root = the ``compound/`` folder); ``image``: aligned or original."""
    return _read(root, image, name="rafdb-compound", labels=RAFDB_COMPOUND_LABELS, folder="compound")


_LAYOUT = """ROOT = RAF-DB/{folder}/
  EmoLabel/list_patition_label.txt   lines 'train_00001.jpg 5' / 'test_0001.jpg 5' (labels 1..{n})
  Image/aligned/train_00001_aligned.jpg   (?image=aligned, default)
  Image/original/train_00001.jpg          (?image=original)"""

_OPTIONS = {"image": "aligned (100x100 aligned faces, default) or original (full images)"}

FORMATS: tuple[Format, ...] = (
    Format(name="rafdb", layout=_LAYOUT.format(folder="basic", n=7), read=read, options=dict(_OPTIONS)),
    Format(
        name="rafdb-compound",
        layout=_LAYOUT.format(folder="compound", n=11),
        read=read_compound,
        options=dict(_OPTIONS),
    ),
)
