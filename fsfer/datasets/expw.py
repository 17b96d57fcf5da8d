"""ExpW, the Expression in-the-Wild dataset: web images with one or more labelled faces.

Zhang, Luo, Loy & Tang, "From facial expression recognition to interpersonal
relation prediction", International Journal of Computer Vision 126, 2018.

``label/label.lst`` lists one face per line,
``image_name face_id top left right bottom confidence expression``; images are in
``image/origin/``. Each record is one face: its box, and item
``image/origin/<name>#face<face_id>``.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from fsfer.datasets.base import Format, check_listed_images, make_records, require_dir, require_file
from fsfer.datasets.fer2013 import FER2013_LABELS
from fsfer.errors import DataError

#: ExpW labels 0..6 -> canonical names: the same order as FER2013's.
EXPW_LABELS: dict[int, str] = FER2013_LABELS
LABEL_FILE = "label/label.lst"
IMAGE_DIR = "image/origin"
_FIELDS = (
    "image_name face_id_in_image face_box_top face_box_left face_box_right face_box_bottom "
    "face_box_cofidence expression_label"
)


def read(root: str) -> pd.DataFrame:
    """Records of ExpW, one per labelled face, with its box ``(left, top, right, bottom)``."""
    base = require_dir(root, "the ExpW folder holding label/label.lst and image/origin/ (write expw:/path/to/ExpW)")
    label_file = require_file(base / LABEL_FILE, f"the ExpW label list {LABEL_FILE} inside {base}")
    top = os.path.abspath(base)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    with open(label_file, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                if len(fields) != 8:
                    raise ValueError
                face, t, left, right, bottom, code = (int(fields[i]) for i in (1, 2, 3, 4, 5, 7))
                float(fields[6])
            except ValueError:
                raise DataError(
                    f"{label_file}, line {line_no}: expected '{_FIELDS}' (7 integers and a confidence after the "
                    f"name), found {line.strip()!r}; fix or restore that line"
                ) from None
            if code not in EXPW_LABELS:
                raise DataError(
                    f"{label_file}, line {line_no}: expression label {code} is outside 0..6 of ExpW; "
                    f"fix or restore that line"
                )
            if right <= left or bottom <= t:
                raise DataError(
                    f"{label_file}, line {line_no}: face box top={t} left={left} right={right} bottom={bottom} is "
                    f"empty; expected right > left and bottom > top"
                )
            image_rel = f"{IMAGE_DIR}/{fields[0]}"
            item = f"{image_rel}#face{face}"
            if item in seen:
                raise DataError(
                    f"{label_file}, line {line_no}: face {face} of {fields[0]} is already listed on line "
                    f"{seen[item]}; each face must be listed once"
                )
            seen[item] = line_no
            rows.append(
                {
                    "item": item,
                    "path": os.path.join(top, image_rel),
                    "box": (left, t, right, bottom),
                    "label": EXPW_LABELS[code],
                    "split": "train",
                }
            )
    if not rows:
        raise DataError(f"{label_file}: lists no faces; expected lines '{_FIELDS}'")
    check_listed_images(dict.fromkeys(r["path"] for r in rows), label_file)
    return make_records(rows, source="expw", root=top)


FORMATS: tuple[Format, ...] = (
    Format(
        name="expw",
        layout="""ROOT = the ExpW folder
  label/label.lst: image_name face_id top left right bottom confidence label (0..6), one face a line
  image/origin/<image_name>; each face is cropped from its box; item image/origin/<name>#face<id>""",
        read=read,
    ),
)
