"""Tiny copies of each official dataset layout, built in ``tmp_path``.

Every fixture returns a builder: call it (optionally with your own rows) and get
the dataset root. Images are real 8x8 files written by Pillow, so a reader that
only lists them is tested on the layout, not on synthetic stubs.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest
from PIL import Image

_PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tiff": "TIFF", ".tif": "TIFF"}


@lru_cache(maxsize=None)
def _image_bytes(kind: str) -> bytes:
    pixels = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)[:, :, None].repeat(3, axis=2)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=kind)
    return buf.getvalue()


def write_image(path: Path) -> Path:
    """An 8x8 image at ``path`` in the format of its extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_image_bytes(_PIL_FORMATS.get(path.suffix.lower(), "PNG")))
    return path


def face_pixels(seed: int) -> np.ndarray:
    """A deterministic 48x48 uint8 face for FER2013 rows."""
    return ((np.arange(48 * 48, dtype=np.int64) * 7 + seed * 13) % 256).astype(np.uint8).reshape(48, 48)


def pixel_text(seed: int) -> str:
    return " ".join(str(v) for v in face_pixels(seed).ravel())


# ---------------------------------------------------------------- RAF-DB

#: 8 train images covering all seven labels (label 4 twice) and 2 test images.
RAFDB_ROWS: list[tuple[str, int]] = [
    ("train_00001.jpg", 1),
    ("train_00002.jpg", 2),
    ("train_00003.jpg", 3),
    ("train_00004.jpg", 4),
    ("train_00005.jpg", 4),
    ("train_00006.jpg", 5),
    ("train_00007.jpg", 6),
    ("train_00008.jpg", 7),
    ("test_0001.jpg", 5),
    ("test_0002.jpg", 7),
]


@pytest.fixture
def make_rafdb(tmp_path: Path) -> Callable[..., Path]:
    def build(rows: Sequence[tuple[str, int]] = RAFDB_ROWS, folder: str = "basic", lines: str | None = None) -> Path:
        root = tmp_path / "RAF-DB" / folder
        (root / "EmoLabel").mkdir(parents=True)
        text = lines if lines is not None else "".join(f"{name} {label}\n" for name, label in rows)
        (root / "EmoLabel" / "list_patition_label.txt").write_text(text)
        for name, _ in rows:
            stem = name.rsplit(".", 1)[0]
            write_image(root / "Image" / "aligned" / f"{stem}_aligned.jpg")
            write_image(root / "Image" / "original" / name)
        return root

    return build


# ---------------------------------------------------------------- FER2013 / FERPlus

#: (emotion, usage) of the 7 rows of the small fer2013.csv.
FER2013_ROWS: list[tuple[int, str]] = [
    (0, "Training"),
    (3, "Training"),
    (6, "Training"),
    (1, "Training"),
    (5, "PublicTest"),
    (2, "PublicTest"),
    (4, "PrivateTest"),
]


def write_fer2013(path: Path, rows: Sequence[tuple[object, str]] = FER2013_ROWS, pixels: dict[int, str] | None = None) -> Path:
    """``fer2013.csv`` with the official header; row k has the pixels of :func:`face_pixels` (k)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["emotion", "pixels", "Usage"])
        for k, (emotion, usage) in enumerate(rows):
            out.writerow([emotion, (pixels or {}).get(k, pixel_text(k)), usage])
    return path


@pytest.fixture
def make_fer2013(tmp_path: Path) -> Callable[..., Path]:
    def build(rows: Sequence[tuple[object, str]] = FER2013_ROWS, pixels: dict[int, str] | None = None) -> Path:
        return write_fer2013(tmp_path / "fer" / "fer2013.csv", rows, pixels)

    return build


FERPLUS_HEADER = ["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                  "contempt", "unknown", "NF"]  # fmt: skip


@pytest.fixture
def make_ferplus(tmp_path: Path) -> Callable[..., Path]:
    """Build a FERPlus folder from ``[(usage, image name, [10 votes])]``; fer2013.csv gets matching rows."""

    def build(rows: Sequence[tuple[str, str, Sequence[int]]], fer_rows: Sequence[tuple[object, str]] | None = None) -> Path:
        root = tmp_path / "ferplus"
        write_fer2013(root / "fer2013.csv", fer_rows if fer_rows is not None else [(0, usage) for usage, _, _ in rows])
        with open(root / "fer2013new.csv", "w", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(FERPLUS_HEADER)
            for usage, name, votes in rows:
                out.writerow([usage, name, *votes])
        return root

    return build


# ---------------------------------------------------------------- SFEW

SFEW_IMAGES: dict[str, dict[str, int]] = {
    "Train": {"Angry": 2, "Disgust": 1, "Fear": 1, "Happy": 3, "Neutral": 1, "Sad": 1, "Surprise": 1},
    "Val": {"Angry": 1, "Happy": 1, "Sad": 2},
    "Test": {"Unknown": 2},
}


@pytest.fixture
def make_sfew(tmp_path: Path) -> Callable[..., Path]:
    def build(images: dict[str, dict[str, int]] = SFEW_IMAGES) -> Path:
        root = tmp_path / "SFEW_2"
        for split, classes in images.items():
            for cls, n in classes.items():
                for k in range(n):
                    write_image(root / split / cls / f"{cls.lower()}_{k:03d}.png")
        return root

    return build


# ---------------------------------------------------------------- AffectNet

AFFECTNET_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
_LANDMARKS = '"' + ";".join(f"{x}.5;{x + 1}.25" for x in range(68)) + '"'

#: (file, x, y, w, h, expression) per list.
AFFECTNET_TRAIN: list[tuple[str, int, int, int, int, int]] = [
    ("1/a0.jpg", 1, 2, 5, 4, 0),
    ("1/a1.jpg", 0, 0, 8, 8, 1),
    ("1/a2.jpg", 2, 1, 3, 6, 6),
    ("2/b0.jpg", 0, 0, 8, 8, 7),  # contempt: AffectNet-8 only
    ("2/b1.jpg", 0, 0, 8, 8, 8),  # none: never read
    ("2/b2.jpg", 0, 0, 8, 8, 10),  # non-face: never read
]
AFFECTNET_VAL: list[tuple[str, int, int, int, int, int]] = [
    ("3/c0.jpg", 1, 1, 6, 6, 3),
    ("3/c1.jpg", 1, 1, 6, 6, 7),
]


def affectnet_line(row: tuple[str, int, int, int, int, int]) -> str:
    name, x, y, w, h, code = row
    return f"{name},{x},{y},{w},{h},{_LANDMARKS},{code},0.25,-0.5\n"


@pytest.fixture
def make_affectnet(tmp_path: Path) -> Callable[..., Path]:
    def build(
        train: Sequence[tuple[str, int, int, int, int, int]] = AFFECTNET_TRAIN,
        val: Sequence[tuple[str, int, int, int, int, int]] = AFFECTNET_VAL,
        val_header: bool = False,
        extra_train_line: str = "",
    ) -> Path:
        root = tmp_path / "AffectNet"
        lists = root / "Manually_Annotated_file_lists"
        lists.mkdir(parents=True)
        body = "".join(affectnet_line(r) for r in train)
        (lists / "training.csv").write_text(AFFECTNET_HEADER + "\n" + body + extra_train_line)
        body = "".join(affectnet_line(r) for r in val)
        (lists / "validation.csv").write_text((AFFECTNET_HEADER + "\n" if val_header else "") + body)
        for row in list(train) + list(val):
            write_image(root / "Manually_Annotated_Images" / row[0])
        return root

    return build


# ---------------------------------------------------------------- CK+

#: (subject, sequence, number of frames, emotion code or None for an unlabelled sequence)
CKPLUS_SEQUENCES: list[tuple[str, str, int, int | None]] = [
    ("S005", "001", 4, 3),  # disgust
    ("S010", "002", 5, 2),  # contempt
    ("S010", "003", 3, None),  # unlabelled
    ("S011", "001", 3, 7),  # surprise
]


@pytest.fixture
def make_ckplus(tmp_path: Path) -> Callable[..., Path]:
    def build(sequences: Sequence[tuple[str, str, int, int | None]] = CKPLUS_SEQUENCES) -> Path:
        root = tmp_path / "CK+"
        for subject, seq, n, code in sequences:
            for k in range(1, n + 1):
                write_image(root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{k:08d}.png")
            label_dir = root / "Emotion" / subject / seq
            label_dir.mkdir(parents=True, exist_ok=True)
            if code is not None:
                (label_dir / f"{subject}_{seq}_{n:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
        return root

    return build


# ---------------------------------------------------------------- JAFFE

JAFFE_NAMES: list[str] = [
    "KA.AN1.39.tiff",
    "KA.HA2.30.tiff",
    "KA.NE1.26.tiff",
    "KL.DI1.170.tiff",
    "KL.FE3.176.tiff",
    "YM.SA1.55.tiff",
    "YM.SU2.59.tiff",
]


@pytest.fixture
def make_jaffe(tmp_path: Path) -> Callable[..., Path]:
    def build(names: Sequence[str] = JAFFE_NAMES) -> Path:
        root = tmp_path / "jaffe"
        root.mkdir()
        for name in names:
            write_image(root / name)
        (root / "README").write_text("The Japanese Female Facial Expression (JAFFE) Database\n")
        return root

    return build


# ---------------------------------------------------------------- ExpW

#: label.lst lines: image, face id, top, left, right, bottom, confidence, label
EXPW_LINES: list[str] = [
    "angry_actor_104.jpg 0 28 113 226 141 22.9343 0",
    "angry_actor_104.jpg 1 2 10 60 70 18.5 3",
    "happy_child_7.jpg 0 5 6 7 8 51.2 3",
    "sad_man_3.jpg 0 0 0 4 4 9.75 6",
]


@pytest.fixture
def make_expw(tmp_path: Path) -> Callable[..., Path]:
    def build(lines: Sequence[str] = EXPW_LINES, images: Sequence[str] | None = None) -> Path:
        root = tmp_path / "ExpW"
        (root / "label").mkdir(parents=True)
        (root / "label" / "label.lst").write_text("".join(line + "\n" for line in lines))
        names = images if images is not None else sorted({line.split()[0] for line in lines if line.split()})
        for name in names:
            write_image(root / "image" / "origin" / name)
        return root

    return build


# ---------------------------------------------------------------- folder


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    """Build ``ROOT/<rel path>`` images from relative paths (and any extra text files)."""

    def build(paths: Sequence[str], files: dict[str, str] | None = None) -> Path:
        root = tmp_path / "faces"
        root.mkdir(exist_ok=True)
        for rel in paths:
            write_image(root / rel)
        for rel, text in (files or {}).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        return root

    return build


@pytest.fixture
def fer_face() -> Callable[[int], np.ndarray]:
    """``fer_face(k)``: the 48x48 pixels the builders write into row k of fer2013.csv."""
    return face_pixels


@pytest.fixture
def add_image() -> Callable[[Path], Path]:
    """``add_image(path)``: write one more 8x8 image (format from the extension)."""
    return write_image
