"""The README's worked example, from photos to a prediction, and its picture (docs/annotated.png).

Photos: scikit-image's public-domain astronaut portrait pasted into cluttered scenes
(tests/faces/conftest.py does the same), two classes of two photos each, and one group
photo with two faces. The classes are only labels here (the same person throughout); the
example shows the path a practitioner's own photos take:

    .venv/bin/python docs/faces_example.py      # about a minute on 2 CPU cores
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from skimage import data

HERE = Path(__file__).resolve().parent


def scene(places: list[tuple[int, int, float, float]], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3)).astype(np.uint8), (0, 0), 6)
    patch = data.astronaut()[20:260, 120:340]
    for x, y, scale, roll in places:
        h, w = patch.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), roll, scale)
        m[0, 2] += (w * scale - w) / 2
        m[1, 2] += (h * scale - h) / 2
        out = cv2.warpAffine(patch, m, (int(w * scale), int(h * scale)), borderMode=cv2.BORDER_REPLICATE)
        image[y:y + out.shape[0], x:x + out.shape[1]] = out
    return image


def fsfer(*args: str) -> None:
    print("$ fsfer " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "fsfer", *args], check=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="faces_example.") as tmp:
        root = Path(tmp)
        for i, (name, place) in enumerate((("smile", (80, 60, 0.8, 4)), ("smile", (300, 120, 1.0, -6)),
                                           ("grin", (200, 90, 0.9, 0)), ("grin", (60, 150, 0.7, 8)))):
            (root / "photos" / name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "photos" / name / f"{i}.jpg"), cv2.cvtColor(scene([place], i), cv2.COLOR_RGB2BGR))
        group = root / "group.jpg"
        cv2.imwrite(str(group), cv2.cvtColor(scene([(40, 60, 0.9, 0), (360, 150, 0.9, 4)], 9), cv2.COLOR_RGB2BGR))
        fsfer("faces", str(root / "photos"), str(root / "faces"), "--size", "64", "--quiet")
        fsfer("pretrain", "--image-size", "64", "--epochs", "3", "--val-episodes", "20", "--test-episodes", "50",
              "--out", str(root / "pre"), "--quiet")
        fsfer("predict", str(root / "pre"), "--support", str(root / "photos"), "--query", str(group),
              "--detect", "haar", "--annotate", str(HERE / "annotated.png"))
        fsfer("export", str(root / "pre"), "--support", str(root / "faces"), "--out", str(root / "model.pt"))
        shutil.copy(root / "faces" / "manifest.csv", HERE / "faces_manifest_example.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
