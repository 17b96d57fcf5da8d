"""``fsfer faces``: every photo under a folder -> aligned face crops in a ``folder`` dataset with a manifest.

Class folders are kept (``IN/<class>/<photo>`` -> ``OUT/<class>/<photo stem>_f<k>.png``),
so ``folder:OUT`` trains and evaluates as any dataset. ``OUT/manifest.csv`` has one row
per crop: ``path`` (relative to OUT), ``source`` (the photo, relative to IN), the face
box ``x0,y0,x1,y1`` in the photo's pixels, the detector's ``score`` and the ``face``'s
index in its photo (largest first). Everything is written to a temporary folder beside
OUT and renamed at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fsfer.datasets.base import IMAGE_EXTENSIONS
from fsfer.errors import ConfigError, DataError
from fsfer.faces.align import align_face
from fsfer.faces.detect import Detector, Face

MANIFEST_COLUMNS = ("path", "source", "x0", "y0", "x1", "y1", "score", "face")


@dataclass
class ExtractResult:
    """What :func:`extract_faces` wrote: crops, photos read, and the photos in which no face was found."""

    out: Path
    faces: int
    photos: int
    without_face: list[str] = field(default_factory=list)


def read_photo(path: Path) -> np.ndarray:
    """An RGB ``[H, W, 3]`` uint8 photo; an unreadable file is a DataError naming it."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataError(f"{path}: not an image OpenCV can read; remove it or replace it with a JPEG or PNG photo")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def photos_under(root: Path) -> list[Path]:
    """Image files under ``root`` (any depth), in name order; hidden files and folders skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames)
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS]
    return found


def extract_faces(
    in_dir: str | Path,
    out_dir: str | Path,
    detector: Detector,
    *,
    size: int = 112,
    margin: float = 0.2,
    all_faces: bool = False,
    strict: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ExtractResult:
    """Detect, align and write the faces of every photo under ``in_dir`` (the largest per photo, or all).

    No face in any photo is a DataError; photos without a face are listed in the result
    (``strict``: a DataError naming them). ``progress(done, total)`` is called per photo.
    """
    import cv2

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise ConfigError(f"{in_dir}: no such folder of photos")
    if size < 16 or not 0 <= margin <= 1:
        raise ConfigError(f"--size must be at least 16 and --margin within [0, 1]; got {size} and {margin}")
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise ConfigError(f"{out_dir}: exists and is not empty; choose another OUT_DIR or pass --force to replace it")
    photos = photos_under(in_dir)
    if not photos:
        raise DataError(f"{in_dir}: holds no image ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    tmp = out_dir.with_name(f".{out_dir.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    rows, without = [], []
    try:
        for done, photo in enumerate(photos, start=1):
            rgb = read_photo(photo)
            faces: list[Face] = detector(rgb)
            rel = photo.relative_to(in_dir)
            if not faces:
                without.append(str(rel))
            for k, face in enumerate(faces if all_faces else faces[:1]):
                crop = align_face(rgb, face, size, margin).image
                name = rel.parent / f"{rel.stem}_f{k}.png"
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(tmp / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
                x0, y0, x1, y1 = face.box
                rows.append([name.as_posix(), rel.as_posix(), f"{x0:.1f}", f"{y0:.1f}", f"{x1:.1f}", f"{y1:.1f}",
                             f"{face.score:.4g}", k])
            if progress is not None:
                progress(done, len(photos))
        if not rows:
            raise DataError(f"{in_dir}: no face found in any of its {len(photos)} photo(s); try a smaller --min-size "
                            "or --detector FILE.onnx (YuNet) for faces in the wild")
        if strict and without:
            raise DataError(f"{in_dir}: no face found in {len(without)} photo(s), e.g. {without[0]} "
                            "(--strict); remove them or drop --strict")
        tmp.mkdir(parents=True, exist_ok=True)
        with (tmp / "manifest.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(MANIFEST_COLUMNS)
            writer.writerows(rows)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExtractResult(out_dir, len(rows), len(photos), without)
