"""Face detectors: OpenCV's Haar cascades (shipped in the opencv-python-headless wheel) or YuNet (a user's ONNX file).

Viola and Jones, "Rapid Object Detection using a Boosted Cascade of Simple Features",
CVPR 2001 (the frontal-face and eye cascades of ``cv2.data.haarcascades``); Wu et al.,
"YuNet: A Tiny Millisecond-level Face Detector", Machine Intelligence Research 2023
(``cv2.FaceDetectorYN``, five landmarks per face). Nothing is downloaded: the Haar files
come with OpenCV, the YuNet model is a file the user names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fsfer.errors import ConfigError, ModelError

Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """A face in a photo: its box ``(x0, y0, x1, y1)`` in pixels, the detector's score, and the eye centres
    (``left_eye`` is the one on the image's left) when the detector found them."""

    box: tuple[float, float, float, float]
    score: float
    left_eye: Point | None = None
    right_eye: Point | None = None

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


Detector = Callable[[np.ndarray], list[Face]]


class HaarDetector:
    """OpenCV's frontal-face cascade, then its eye cascade in the upper part of each face.

    ``__call__(rgb [H, W, 3] uint8) -> faces``, largest first. The score is the cascade's
    level weight (higher: more certain). Eyes are kept when two are found side by side
    (level within a quarter of the face width, 20-70% of it apart), else left None.
    """

    def __init__(self, min_size: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5) -> None:
        import cv2

        root = Path(cv2.data.haarcascades)
        self.face = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self.eye = cv2.CascadeClassifier(str(root / "haarcascade_eye.xml"))
        if self.face.empty() or self.eye.empty():
            raise ModelError(f"{root}: OpenCV's Haar cascade files are missing; reinstall opencv-python-headless (<5)")
        self.min_size, self.scale_factor, self.min_neighbors = int(min_size), float(scale_factor), int(min_neighbors)

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        import cv2

        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes, _, weights = self.face.detectMultiScale3(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True,
        )
        faces = []
        for (x, y, w, h), weight in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1)):
            left, right = self._eyes(grey, int(x), int(y), int(w), int(h))
            faces.append(Face((float(x), float(y), float(x + w), float(y + h)), float(weight), left, right))
        return sorted(faces, key=lambda f: -f.area)

    def _eyes(self, grey: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[Point | None, Point | None]:
        top = grey[y: y + int(0.6 * h), x: x + w]
        found = self.eye.detectMultiScale(top, scaleFactor=1.05, minNeighbors=4, minSize=(max(4, w // 10),) * 2,
                                          maxSize=(w // 3, w // 3))
        centres = sorted(((float(ex + ew / 2 + x), float(ey + eh / 2 + y), float(ew))
                          for ex, ey, ew, eh in np.asarray(found).reshape(-1, 4)), key=lambda c: -c[2])
        for i in range(len(centres)):
            for j in range(i + 1, len(centres)):
                a, b = sorted((centres[i], centres[j]))
                apart = b[0] - a[0]
                if 0.2 * w <= apart <= 0.7 * w and abs(b[1] - a[1]) <= 0.25 * w:
                    return (a[0], a[1]), (b[0], b[1])
        return None, None


class YuNetDetector:
    """OpenCV's YuNet (``cv2.FaceDetectorYN``) with the user's ONNX model file; eyes from its landmarks."""

    def __init__(self, model: str | Path, score_threshold: float = 0.6, min_size: int = 0) -> None:
        import cv2

        path = Path(model)
        if not path.is_file():
            raise ConfigError(f"--detector {path}: no such file; pass haar or a YuNet .onnx model file you hold")
        try:
            self.net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold)
        except cv2.error as err:
            first = str(err).strip().splitlines()[-1][:100] if str(err).strip() else "cv2.error"
            raise ModelError(f"{path}: not a YuNet ONNX model OpenCV can load ({first}); pass haar or a "
                             "face_detection_yunet .onnx file") from None
        self.min_size = int(min_size)

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        import cv2

        height, width = rgb.shape[:2]
        self.net.setInputSize((width, height))
        _, found = self.net.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        faces = []
        for row in np.asarray(found if found is not None else []).reshape(-1, 15):
            x, y, w, h = (float(v) for v in row[:4])
            if min(w, h) < self.min_size:
                continue
            eyes = sorted([(float(row[4]), float(row[5])), (float(row[6]), float(row[7]))])
            faces.append(Face((x, y, x + w, y + h), float(row[14]), eyes[0], eyes[1]))
        return sorted(faces, key=lambda f: -f.area)


def make_detector(spec: str = "haar", min_size: int = 40) -> Detector:
    """``haar`` (OpenCV's cascades) or a path to a YuNet ``.onnx`` file; anything else is a ConfigError."""
    if spec == "haar":
        return HaarDetector(min_size=min_size)
    if spec.lower().endswith(".onnx"):
        return YuNetDetector(spec, min_size=min_size)
    raise ConfigError(f"--detector {spec!r}: use haar, or a YuNet model file ending in .onnx")
