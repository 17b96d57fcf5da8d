"""FERPlus: FER2013 faces relabelled by 10 annotators each, with eight emotions.

Barsoum, Zhang, Canton Ferrer & Zhang, "Training deep networks for facial
expression recognition with crowd-sourced label distribution", ICMI 2016.

``fer2013new.csv`` holds, per row of ``fer2013.csv`` and in the same order, the
votes of the annotators for eight emotions plus ``unknown`` and ``NF`` (not a
face). The label modes of the authors turn the votes into a target:

* ``majority``: after outlier removal (vote counts of 1 become 0), keep the image
  only when its top column holds more than half of the votes; ``label`` = it.
* ``probability`` / ``crossentropy``: take the columns tied at the current maximum,
  again and again, until they hold at least 75% of the votes (at most 3 emotions);
  stop at unknown/NF; discard the image when the kept votes are at most 50% of
  all votes or more than 3 columns were taken. ``targets`` = the kept votes,
  normalised.
* ``multi_target``: keep every column with at least 30% of the votes; discard the
  image when the kept votes are at most 50% of all votes.

In every mode an image whose winning column is unknown or NF is dropped, and so is
one with an empty ``Image name`` (dropped by FERPlus itself). The two modes
``probability`` and ``crossentropy`` build the same targets; they differ only in
the training loss the authors paired with them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from fsfer.datasets import fer2013
from fsfer.datasets.base import Format, make_records
from fsfer.errors import DataError, SpecError

#: The vote columns of fer2013new.csv, in file order (the first eight are canonical emotion names).
VOTE_COLUMNS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
#: The eight FERPlus emotions (canonical names), in file order.
FERPLUS_LABELS: tuple[str, ...] = VOTE_COLUMNS[:8]
MODES: tuple[str, ...] = ("majority", "probability", "crossentropy", "multi_target")
LABEL_CSV = "fer2013new.csv"
_N_EMOTIONS = len(FERPLUS_LABELS)


def _first_max(values: Sequence[float]) -> int:
    """Index of the largest value; the first one (in file order) on ties."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def vote_target(votes: Sequence[int], mode: str = "majority") -> dict[str, float] | None:
    """The target of one image from its 10 vote counts (``VOTE_COLUMNS`` order).

    Returns ``{emotion: probability}`` over the eight emotions (only nonzero
    entries, summing to 1; a single ``{label: 1.0}`` in ``majority`` mode), or
    ``None`` when the mode discards the image.
    """
    if mode not in MODES:
        raise SpecError(f"ferplus: unknown mode {mode!r}; known modes: {', '.join(MODES)} (write ?mode=majority)")
    if len(votes) != len(VOTE_COLUMNS):
        raise ValueError(f"expected {len(VOTE_COLUMNS)} vote counts ({', '.join(VOTE_COLUMNS)}), got {len(votes)}")
    counts = [0 if v <= 1 else v for v in votes]  # outlier removal: a single vote is noise
    total = sum(counts)
    if total == 0:
        return None
    kept = [0] * len(counts)
    taken = 0  # columns taken (probability modes)
    if mode == "majority":
        top = _first_max(counts)
        if 2 * counts[top] <= total:
            return None
        kept[top] = counts[top]
    elif mode in ("probability", "crossentropy"):
        left = list(counts)
        stopped = False
        while 4 * sum(kept) < 3 * total and taken < 3 and not stopped:
            peak = max(left)
            if peak == 0:
                break
            for i in range(len(left)):
                if left[i] != peak:
                    continue
                left[i] = 0
                if i >= _N_EMOTIONS:  # unknown or NF among the winners: stop here
                    stopped = True
                    if sum(kept) == 0:
                        kept[i] = peak  # it wins alone: the image is dropped below
                    break
                kept[i] = peak
                taken += 1
        if 2 * sum(kept) <= total or taken > 3:
            return None
    else:  # multi_target
        kept = [c if 10 * c >= 3 * total else 0 for c in counts]
        if 2 * sum(kept) <= total:
            return None
    if _first_max(kept) >= _N_EMOTIONS:  # unknown or NF wins: not an expression
        return None
    emotions = kept[:_N_EMOTIONS]
    mass = sum(emotions)
    return {FERPLUS_LABELS[i]: emotions[i] / mass for i in range(_N_EMOTIONS) if emotions[i]}


def _locate(root: str) -> tuple[Path, Path]:
    """``(fer2013new.csv, fer2013.csv)`` from a folder holding both or the path of fer2013new.csv."""
    if not str(root):
        raise DataError(
            f"no dataset root given: write the spec as ferplus:ROOT, where ROOT is the folder holding "
            f"{LABEL_CSV} and fer2013.csv"
        )
    path = Path(os.path.abspath(Path(root).expanduser()))
    if path.is_dir():
        labels = path / LABEL_CSV
        if not labels.is_file():
            raise DataError(
                f"{labels}: no such file; expected the FERPlus label file {LABEL_CSV} in {path} "
                f"(from github.com/microsoft/FERPlus)"
            )
    elif path.is_file():
        labels = path
    else:
        raise DataError(f"{path}: no such file or folder; expected the folder holding {LABEL_CSV} and fer2013.csv")
    pixels = labels.parent / fer2013.CSV_NAME
    if not pixels.is_file():
        raise DataError(
            f"{pixels}: no such file; FERPlus takes its pixels from FER2013: put fer2013.csv beside {labels.name}"
        )
    return labels, pixels


def _votes(rec: dict[str, str], path: Path, line_no: int) -> list[int]:
    try:
        votes = [int(rec[c]) for c in VOTE_COLUMNS]
    except ValueError:
        votes = []
    if len(votes) != len(VOTE_COLUMNS) or min(votes) < 0:
        found = ",".join(rec[c] for c in VOTE_COLUMNS)
        raise DataError(
            f"{path}, line {line_no}: expected 10 vote counts (integers >= 0) for {','.join(VOTE_COLUMNS)}, "
            f"found {found}; fix or restore that line"
        )
    return votes


def read(root: str, *, mode: str = "majority") -> pd.DataFrame:
    """Records of FERPlus; root = the folder holding fer2013new.csv and fer2013.csv (or fer2013new.csv)."""
    if mode not in MODES:
        raise SpecError(f"ferplus: unknown mode {mode!r}; known modes: {', '.join(MODES)} (write ?mode=majority)")
    labels_csv, pixels_csv = _locate(root)
    faces = list(fer2013.iter_csv(pixels_csv, ("pixels", "Usage")))
    rows: list[dict[str, Any]] = []
    n_label_rows = 0
    for index, line_no, rec in fer2013.iter_csv(labels_csv, ("Usage", "Image name") + VOTE_COLUMNS):
        n_label_rows += 1
        if index >= len(faces):
            continue  # counted and reported below
        split = fer2013.USAGE_SPLITS.get(rec["Usage"].strip())
        if split is None:
            raise DataError(
                f"{labels_csv}, line {line_no}: Usage {rec['Usage']!r} is not one of "
                f"{', '.join(fer2013.USAGE_SPLITS)}; fix or restore that line"
            )
        _, face_line, face = faces[index]
        if face["Usage"].strip() != rec["Usage"].strip():
            raise DataError(
                f"{labels_csv}, line {line_no}: Usage {rec['Usage'].strip()} differs from {face['Usage'].strip()} "
                f"in {pixels_csv}, line {face_line}; the two files must list the same images in the same order"
            )
        votes = _votes(rec, labels_csv, line_no)
        if not rec["Image name"].strip():
            continue
        target = vote_target(votes, mode)
        if target is None:
            continue
        label = max(target, key=lambda k: (target[k], -FERPLUS_LABELS.index(k)))
        rows.append(
            {
                "item": f"{pixels_csv.name}#row{index}",
                "pixels": fer2013.check_pixels(face["pixels"], pixels_csv, face_line),
                "label": label,
                "split": split,
                "targets": None if mode == "majority" else target,
            }
        )
    if n_label_rows != len(faces):
        raise DataError(
            f"{labels_csv}: {n_label_rows} data rows but {pixels_csv} has {len(faces)}; FERPlus needs one row per "
            f"FER2013 row in the same order: use the fer2013.csv and fer2013new.csv that belong together"
        )
    if not rows:
        raise DataError(f"{labels_csv}: no image kept in mode {mode}; expected the FERPlus vote rows")
    return make_records(rows, source="ferplus", root=labels_csv.parent)


FORMATS: tuple[Format, ...] = (
    Format(
        name="ferplus",
        layout="""ROOT = the folder holding fer2013new.csv and fer2013.csv (or the path of fer2013new.csv)
  fer2013new.csv: Usage,Image name,neutral,...,contempt,unknown,NF (10 annotator votes per row)
  fer2013.csv beside it gives the pixels, row by row; empty 'Image name' = dropped by FERPlus
  ?mode=majority|probability|crossentropy|multi_target (the FERPlus label modes)""",
        read=read,
        decode=fer2013.decode,
        options={"mode": "majority (default), probability, crossentropy or multi_target"},
    ),
)
