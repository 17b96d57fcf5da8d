"""CK+, the Extended Cohn-Kanade dataset: posed sequences from neutral to peak.

Lucey, Cohn, Kanade, Saragih, Ambadar & Matthews, "The Extended Cohn-Kanade
Dataset (CK+): a complete dataset for action unit and emotion-specified
expression", CVPR Workshops 2010.

``cohn-kanade-images/S005/001/S005_001_00000001.png ...`` holds the frames;
``Emotion/S005/001/S005_001_00000011_emotion.txt`` labels 327 of the 593 sequences
(one float, 0..7) and names the peak frame. The last ``peak`` frames up to that
frame carry the label; with ``neutral=True`` the first frame is added as neutral.
The subject (``S005``) is kept for subject-disjoint splits, and every record (the
neutral first frame too) has an extra ``sequence`` column (``S005/001``, the subject
and sequence folder names).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from fsfer.datasets.base import Format, list_images, make_records, require_dir
from fsfer.errors import DataError, SpecError

#: CK+ emotion codes 0..7 -> canonical names.
CKPLUS_LABELS: dict[int, str] = {
    0: "neutral",
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happiness",
    6: "sadness",
    7: "surprise",
}
IMAGE_DIR = "cohn-kanade-images"
LABEL_DIR = "Emotion"
_SUFFIX = "_emotion.txt"


def _dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_code(path: Path) -> int:
    lines = [(n, t.strip()) for n, t in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1) if t.strip()]
    if len(lines) != 1:
        raise DataError(f"{path}: expected one line holding the emotion code (such as 3.0000000e+00), found {len(lines)}")
    line_no, text = lines[0]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():
        raise DataError(
            f"{path}, line {line_no}: expected an emotion code such as 3.0000000e+00, found {text!r}; restore the file"
        )
    if int(value) not in CKPLUS_LABELS:
        raise DataError(f"{path}, line {line_no}: emotion code {int(value)} is outside 0..7 of CK+; restore the file")
    return int(value)


def read(root: str, *, peak: int = 1, neutral: bool = False) -> pd.DataFrame:
    """Records of CK+: the last ``peak`` frames of each labelled sequence (+ its first frame as neutral)."""
    if peak < 1:
        raise SpecError(f"ckplus: option peak={peak} must be at least 1 (the number of last frames that carry the label)")
    base = require_dir(root, f"the CK+ folder holding {IMAGE_DIR}/ and {LABEL_DIR}/ (write ckplus:/path/to/CK+)")
    top = os.path.abspath(base)
    labels = require_dir(base / LABEL_DIR, f"the CK+ label folder {LABEL_DIR}/S005/001/*_emotion.txt inside {base}")
    images = require_dir(base / IMAGE_DIR, f"the CK+ image folder {IMAGE_DIR}/S005/001/*.png inside {base}")
    rows: list[dict[str, Any]] = []

    def add(frame: Path, label: str, subject: str, sequence: str) -> None:
        rel = frame.relative_to(base).as_posix()
        rows.append({"item": rel, "path": os.path.join(top, rel), "label": label, "split": "train", "subject": subject,
                     "sequence": sequence})  # fmt: skip

    for subject_dir in _dirs(labels):
        for seq_dir in _dirs(subject_dir):
            files = sorted(seq_dir.glob("*" + _SUFFIX))
            if not files:
                continue  # an unlabelled sequence
            if len(files) > 1:
                raise DataError(f"{seq_dir}: holds {len(files)} emotion files; expected at most one per sequence")
            label_file = files[0]
            code = _read_code(label_file)
            peak_stem = label_file.name[: -len(_SUFFIX)]
            frame_dir = images / subject_dir.name / seq_dir.name
            frames = list_images(frame_dir) if frame_dir.is_dir() else []
            stems = [f.stem for f in frames]
            if peak_stem not in stems:
                raise DataError(
                    f"{frame_dir / (peak_stem + '.png')}: peak frame named by {label_file} is missing; "
                    f"restore the CK+ images ({IMAGE_DIR}/{subject_dir.name}/{seq_dir.name}/)"
                )
            frames = frames[: stems.index(peak_stem) + 1]
            sequence = f"{subject_dir.name}/{seq_dir.name}"
            first = 1 if neutral and len(frames) > 1 else 0  # the first frame is neutral, never also peak
            if first:
                add(frames[0], "neutral", subject_dir.name, sequence)
            for frame in frames[max(first, len(frames) - peak) :]:
                add(frame, CKPLUS_LABELS[code], subject_dir.name, sequence)
    if not rows:
        raise DataError(f"{labels}: holds no *{_SUFFIX} files; expected {LABEL_DIR}/S005/001/S005_001_00000011{_SUFFIX}")
    return make_records(rows, source="ckplus", root=top)


FORMATS: tuple[Format, ...] = (
    Format(
        name="ckplus",
        layout="""ROOT = the CK+ folder
  cohn-kanade-images/S005/001/S005_001_00000001.png ... (neutral -> peak)
  Emotion/S005/001/S005_001_00000011_emotion.txt (one float, 0..7; names the peak frame)
  ?peak=1: last N frames carry the label; ?neutral=true: first frame as neutral
  subject = S005; extra column sequence = S005/001""",
        read=read,
        options={
            "peak": "how many last frames of a labelled sequence carry its label (default 1)",
            "neutral": "true: add the first frame of each labelled sequence as neutral (default false)",
        },
    ),
)
