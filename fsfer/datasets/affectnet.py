"""AffectNet, manually annotated part: faces from the web with a face box each.

Mollahosseini, Hasani & Mahoor, "AffectNet: a database for facial expression,
valence, and arousal computing in the wild", IEEE Trans. Affective Computing 2017.

``Manually_Annotated_file_lists/training.csv`` (-> train) and ``validation.csv``
(-> val) list ``subDirectory_filePath,face_x,face_y,face_width,face_height,...,expression,...``;
images are under ``Manually_Annotated_Images/``. Records carry the face box.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd

from fsfer.datasets.base import Format, check_listed_images, make_records, require_dir, require_file
from fsfer.errors import DataError, SpecError

#: AffectNet expressions 0..7 -> canonical names (AffectNet-7 drops 7, contempt).
AFFECTNET_LABELS: dict[int, str] = {
    0: "neutral",
    1: "happiness",
    2: "sadness",
    3: "surprise",
    4: "fear",
    5: "disgust",
    6: "anger",
    7: "contempt",
}
#: Codes 8..10 are not expressions; such rows are skipped.
AFFECTNET_NON_EXPRESSIONS: dict[int, str] = {8: "none", 9: "uncertain", 10: "non-face"}
COLUMNS: tuple[str, ...] = (
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
)
LIST_DIR = "Manually_Annotated_file_lists"
IMAGE_DIR = "Manually_Annotated_Images"
#: Label files -> split.
AFFECTNET_SPLITS: dict[str, str] = {"training.csv": "train", "validation.csv": "val"}


def _int(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


def _read_list(path: Path, split: str, classes: int, top: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        for fields in reader:
            line_no = reader.line_num
            if not fields:
                continue
            if fields[0].strip() == COLUMNS[0]:  # the header (some copies of validation.csv lack it)
                continue
            if len(fields) != len(COLUMNS):
                raise DataError(
                    f"{path}, line {line_no}: expected {len(COLUMNS)} fields ({','.join(COLUMNS)}), "
                    f"found {len(fields)}; fix or restore that line"
                )
            try:
                x, y, w, h, code = (_int(fields[i]) for i in (1, 2, 3, 4, 6))
            except ValueError:
                raise DataError(
                    f"{path}, line {line_no}: face_x, face_y, face_width, face_height and expression must be "
                    f"integers, found {','.join(fields[i] for i in (1, 2, 3, 4, 6))}; fix or restore that line"
                ) from None
            if code not in AFFECTNET_LABELS and code not in AFFECTNET_NON_EXPRESSIONS:
                raise DataError(
                    f"{path}, line {line_no}: expression {code} is outside 0..10 of AffectNet; fix or restore that line"
                )
            if code not in AFFECTNET_LABELS or code >= classes:
                continue
            if w <= 0 or h <= 0:
                raise DataError(
                    f"{path}, line {line_no}: face box {w}x{h} is empty; expected face_width and face_height > 0"
                )
            rel = f"{IMAGE_DIR}/{fields[0].strip().lstrip('/')}"
            rows.append(
                {
                    "item": rel,
                    "path": os.path.join(top, rel),
                    "box": (x, y, x + w, y + h),
                    "label": AFFECTNET_LABELS[code],
                    "split": split,
                }
            )
    return rows


def read(root: str, *, classes: int = 7) -> pd.DataFrame:
    """Records of AffectNet-7 (``classes=7``) or AffectNet-8 (``classes=8``, with contempt)."""
    if classes not in (7, 8):
        raise SpecError(f"affectnet: option classes={classes} must be 7 (without contempt) or 8 (with contempt)")
    base = require_dir(
        root,
        f"the AffectNet folder holding {LIST_DIR}/ and {IMAGE_DIR}/ (write affectnet:/path/to/AffectNet)",
    )
    top = os.path.abspath(base)
    rows: list[dict[str, Any]] = []
    for name, split in AFFECTNET_SPLITS.items():
        path = require_file(base / LIST_DIR / name, f"the AffectNet label list {LIST_DIR}/{name} inside {base}")
        listed = _read_list(path, split, classes, top)
        check_listed_images((r["path"] for r in listed), path)
        rows += listed
    if not rows:
        raise DataError(f"{base / LIST_DIR}: the label lists hold no expression rows (codes 0..{classes - 1})")
    return make_records(rows, source="affectnet", root=top)


FORMATS: tuple[Format, ...] = (
    Format(
        name="affectnet",
        layout="""ROOT = the AffectNet folder
  Manually_Annotated_file_lists/training.csv (-> train), validation.csv (-> val)
    subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal
  Manually_Annotated_Images/<subDirectory_filePath>; the face box is cropped
  ?classes=7 (default, no contempt) or 8; codes 8..10 (none, uncertain, non-face) are skipped""",
        read=read,
        options={"classes": "7 (default: the basic seven) or 8 (with contempt)"},
    ),
)
