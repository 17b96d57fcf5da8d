"""FER2013: 35,887 48x48 grayscale faces stored as pixel strings in one CSV file.

Goodfellow et al., "Challenges in representation learning: a report on three
machine learning contests", ICONIP 2013 (arXiv:1307.0414).

Listing keeps each row's raw ``pixels`` string (parsing 35,887 x 2304 numbers would
make listing slow); :func:`decode` turns one record into an image when it is needed.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from fsfer.datasets.base import Format, make_records
from fsfer.errors import DataError

#: FER2013 labels 0..6 -> canonical names.
FER2013_LABELS: dict[int, str] = {
    0: "anger",
    1: "disgust",
    2: "fear",
    3: "happiness",
    4: "sadness",
    5: "surprise",
    6: "neutral",
}
#: ``Usage`` column -> split.
USAGE_SPLITS: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
CSV_NAME = "fer2013.csv"
SIDE = 48
N_PIXELS = SIDE * SIDE

_LABEL_TEXT = {str(k): v for k, v in FER2013_LABELS.items()}


def locate_csv(root: str, name: str = CSV_NAME) -> Path:
    """The CSV file: ``root`` itself, or ``root/<name>`` when ``root`` is a folder."""
    if not str(root):
        raise DataError(f"no dataset root given: write the spec as FORMAT:ROOT, where ROOT is {name} or its folder")
    path = Path(os.path.abspath(Path(root).expanduser()))
    if path.is_dir():
        path = path / name
        if not path.is_file():
            raise DataError(f"{path}: no such file; expected {name} in the folder {path.parent}")
        return path
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder; expected {name} or the folder holding it")
    return path


def iter_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, int, dict[str, str]]]:
    """``(row index, line number, {column: text})`` for each data row of ``path``.

    The header names the columns (matched without surrounding spaces, in any order);
    blank lines are skipped; a row with the wrong number of fields is a DataError.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        names = [h.strip() for h in header or []]
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(
                f"{path}, line 1: header lacks column(s) {', '.join(missing)}; expected a header naming "
                f"{','.join(columns)} (found {','.join(names) or 'an empty file'})"
            )
        where = {c: names.index(c) for c in columns}
        index = 0
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(names):
                raise DataError(
                    f"{path}, line {reader.line_num}: expected {len(names)} fields ({','.join(names)}), "
                    f"found {len(fields)}; fix or restore that line"
                )
            yield index, reader.line_num, {c: fields[i] for c, i in where.items()}
            index += 1


def check_pixels(pixels: str, path: Path, line_no: int) -> str:
    """The stripped pixel string, or a DataError when it does not hold 2304 values (cheap: no parsing)."""
    text = pixels.strip()
    if text.count(" ") != N_PIXELS - 1 and len(text.split()) != N_PIXELS:
        raise DataError(
            f"{path}, line {line_no}: 'pixels' holds {len(text.split())} values, expected {N_PIXELS} "
            f"space-separated 0..255 values (48x48); fix or restore that line"
        )
    return text


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def _field(row: Any, name: str) -> Any:
    try:
        return row[name]
    except (KeyError, TypeError, IndexError):
        return getattr(row, name)


def decode(row: Any, size: int | None = None) -> np.ndarray:
    """The face of one record as ``uint8 [H, W, 3]`` (gray stacked to 3 channels).

    ``H = W = 48``, or ``size`` when given (bilinear resize). A bad value is a
    DataError naming the record (``fer2013.csv#row<k>``).
    """
    item = _field(row, "item")
    pixels = _field(row, "pixels")
    if isinstance(pixels, np.ndarray):
        gray = pixels
    else:
        tokens = str(pixels).split()
        try:
            values = np.array(tokens, dtype=np.int64)
        except ValueError:
            bad = next(t for t in tokens if not _is_int(t))
            raise DataError(
                f"{item}: pixel value {bad!r} is not an integer; expected {N_PIXELS} space-separated 0..255 "
                f"values in that row; fix or restore the row"
            ) from None
        if values.size != N_PIXELS:
            raise DataError(f"{item}: {values.size} pixel values, expected {N_PIXELS} (48x48); fix or restore the row")
        if values.min() < 0 or values.max() > 255:
            bad = int(values[(values < 0) | (values > 255)][0])
            raise DataError(f"{item}: pixel value {bad} is outside 0..255; fix or restore the row")
        gray = values.astype(np.uint8).reshape(SIDE, SIDE)
    if size is not None and size != gray.shape[0]:
        from PIL import Image

        gray = np.asarray(Image.fromarray(gray).resize((size, size), Image.BILINEAR))
    return np.repeat(gray[:, :, None], 3, axis=2) if gray.ndim == 2 else gray


def read(root: str) -> pd.DataFrame:
    """Records of FER2013; root = ``fer2013.csv`` or the folder holding it."""
    path = locate_csv(root)
    rows: list[dict[str, Any]] = []
    for index, line_no, rec in iter_csv(path, ("emotion", "pixels", "Usage")):
        label = _LABEL_TEXT.get(rec["emotion"].strip())
        if label is None:
            raise DataError(
                f"{path}, line {line_no}: emotion {rec['emotion']!r} is not a FER2013 label 0..6; fix or restore that line"
            )
        split = USAGE_SPLITS.get(rec["Usage"].strip())
        if split is None:
            raise DataError(
                f"{path}, line {line_no}: Usage {rec['Usage']!r} is not one of {', '.join(USAGE_SPLITS)}; "
                f"fix or restore that line"
            )
        rows.append(
            {
                "item": f"{path.name}#row{index}",
                "pixels": check_pixels(rec["pixels"], path, line_no),
                "label": label,
                "split": split,
            }
        )
    if not rows:
        raise DataError(f"{path}: holds no data rows; expected the 35,887 rows of FER2013 below the header")
    return make_records(rows, source="fer2013", root=path)


FORMATS: tuple[Format, ...] = (
    Format(
        name="fer2013",
        layout="""ROOT = fer2013.csv, or the folder holding it
  header emotion,pixels,Usage; emotion 0..6; pixels = 2304 values 0..255 (48x48 gray)
  Usage Training -> train, PublicTest -> val, PrivateTest -> test""",
        read=read,
        decode=decode,
    ),
)
