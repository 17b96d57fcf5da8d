"""Scenes built from a real face: scikit-image's public-domain astronaut portrait (Eileen Collins, NASA).

The face is cut out, scaled and rolled by known amounts and pasted into 640x480
cluttered scenes (blurred noise) at known places, so every test knows where the face
and its eyes truly are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

#: In the 512x512 astronaut photo: the face box and the eye centres (the Haar cascades' own
#: measurement on the untouched photo, checked by eye).
FACE_BOX = (177.0, 67.0, 270.0, 160.0)
EYES = ((201.5, 100.5), (246.0, 103.0))
#: the patch cut around the face
PATCH = (120, 20, 340, 260)  # x0, y0, x1, y1


@dataclass
class Pasted:
    """Where a pasted face truly is in its scene: box ``(x0, y0, x1, y1)`` and eye centres."""

    box: tuple[float, float, float, float]
    eyes: tuple[tuple[float, float], tuple[float, float]]


def scene(faces: list[tuple[float, float, float, float]], seed: int = 0) -> tuple[np.ndarray, list[Pasted]]:
    """A 640x480 RGB scene with the astronaut's face pasted for each ``(x, y, scale, roll_degrees)``."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3)).astype(np.uint8), (0, 0), 6)
    photo = skimage_data.astronaut()
    x0, y0, x1, y1 = PATCH
    patch = photo[y0:y1, x0:x1]
    truths = []
    for x, y, scale, roll in faces:
        h, w = patch.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), roll, scale)
        matrix[0, 2] += (w * scale - w) / 2
        matrix[1, 2] += (h * scale - h) / 2
        out_w, out_h = int(w * scale), int(h * scale)
        image[int(y):int(y) + out_h, int(x):int(x) + out_w] = cv2.warpAffine(
            patch, matrix, (out_w, out_h), borderMode=cv2.BORDER_REPLICATE)

        def to_scene(px: float, py: float) -> tuple[float, float]:
            sx, sy = matrix @ np.array([px - x0, py - y0, 1.0])
            return float(sx + int(x)), float(sy + int(y))

        corners = [to_scene(px, py) for px, py in ((FACE_BOX[0], FACE_BOX[1]), (FACE_BOX[2], FACE_BOX[3]))]
        centre = ((corners[0][0] + corners[1][0]) / 2, (corners[0][1] + corners[1][1]) / 2)
        side = (FACE_BOX[2] - FACE_BOX[0]) * scale
        box = (centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2)
        truths.append(Pasted(box, (to_scene(*EYES[0]), to_scene(*EYES[1]))))
    return image, truths


def save(path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture
def make_scene():
    """:func:`scene`: ``make_scene([(x, y, scale, roll), ...]) -> (rgb, [Pasted, ...])``."""
    return scene


@pytest.fixture
def save_image():
    """:func:`save`: ``save_image(path, rgb)`` writes a PNG (folders made)."""
    return save
