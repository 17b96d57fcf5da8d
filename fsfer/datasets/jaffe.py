"""JAFFE, the Japanese Female Facial Expression database: 213 posed images of 10 subjects.

Lyons, Akamatsu, Kamachi & Gyoba, "Coding facial expressions with Gabor
wavelets", IEEE FG 1998.

The label and the subject are in the file name: ``KA.AN1.39.tiff`` = subject KA,
expression AN (anger), repetition 1, image 39.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pandas as pd

from fsfer.datasets.base import Format, list_images, make_records, require_dir
from fsfer.errors import DataError

#: JAFFE expression codes -> canonical names.
JAFFE_LABELS: dict[str, str] = {
    "AN": "anger",
    "DI": "disgust",
    "FE": "fear",
    "HA": "happiness",
    "NE": "neutral",
    "SA": "sadness",
    "SU": "surprise",
}
#: subject . expression code + repetition . image id . extension
NAME_PATTERN = re.compile(r"^(?P<subject>[A-Za-z]+)\.(?P<code>[A-Za-z]{2})\d*\.\d+\.[A-Za-z]+$")


def read(root: str) -> pd.DataFrame:
    """Records of JAFFE; root = the folder holding the ``*.tiff`` images."""
    base = require_dir(root, "the JAFFE folder holding KA.AN1.39.tiff and the other 212 images (write jaffe:/path/to/jaffe)")
    top = os.path.abspath(base)
    rows: list[dict[str, Any]] = []
    for image in list_images(base):
        match = NAME_PATTERN.match(image.name)
        code = match["code"].upper() if match else ""
        if code not in JAFFE_LABELS:
            raise DataError(
                f"{image}: not a JAFFE image name; expected SUBJECT.CODE<n>.<id>.tiff such as KA.AN1.39.tiff with "
                f"CODE one of {', '.join(JAFFE_LABELS)}; rename or move the file"
            )
        rows.append(
            {
                "item": image.name,
                "path": os.path.join(top, image.name),
                "label": JAFFE_LABELS[code],
                "split": "train",
                "subject": match["subject"].upper() if match else None,
            }
        )
    if not rows:
        raise DataError(f"{base}: holds no images; expected the JAFFE images such as KA.AN1.39.tiff directly in it")
    return make_records(rows, source="jaffe", root=top)


FORMATS: tuple[Format, ...] = (
    Format(
        name="jaffe",
        layout="""ROOT = the folder holding the 213 JAFFE images
  KA.AN1.39.tiff = subject KA . expression AN + repetition 1 . image id 39
  codes AN anger, DI disgust, FE fear, HA happiness, NE neutral, SA sadness, SU surprise""",
        read=read,
    ),
)
