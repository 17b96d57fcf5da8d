"""Eye alignment: a similarity transform that levels the eyes, fixes their distance and crops a square with a margin.

The template: in a face square of side ``F`` the eyes sit at ``(0.3 F, 0.38 F)`` and
``(0.7 F, 0.38 F)`` (inter-ocular distance ``0.4 F``); the crop adds ``margin * F`` on
every side, so an output of ``size`` pixels has ``F = size / (1 + 2 margin)``. A face
whose eyes were not found is placed by its box (eyes assumed at the template's places
in it, no rotation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fsfer.faces.detect import Face

EYE_Y, EYE_X = 0.38, (0.3, 0.7)


@dataclass(frozen=True)
class AlignedFace:
    """An aligned crop ``image`` ``[size, size, 3]`` uint8, the roll the face had (degrees, positive: the
    image's right eye lower) and whether its eyes were found (else the box placed it)."""

    image: np.ndarray
    roll: float
    from_eyes: bool
    #: the 2x3 similarity transform from photo pixels to crop pixels
    matrix: np.ndarray


def template_eyes(size: int, margin: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the left and right eye land in an output of ``size`` pixels with ``margin``."""
    face = size / (1 + 2 * margin)
    y = (margin + EYE_Y) * face
    return ((margin + EYE_X[0]) * face, y), ((margin + EYE_X[1]) * face, y)


def align_face(rgb: np.ndarray, face: Face, size: int = 112, margin: float = 0.2) -> AlignedFace:
    """The aligned square crop of ``face`` in ``rgb`` ``[H, W, 3]`` (edges replicated where the crop leaves the photo)."""
    import cv2

    if face.left_eye is not None and face.right_eye is not None:
        left, right, from_eyes = face.left_eye, face.right_eye, True
    else:
        x0, y0, x1, y1 = face.box
        w, h = x1 - x0, y1 - y0
        left, right, from_eyes = (x0 + EYE_X[0] * w, y0 + EYE_Y * h), (x0 + EYE_X[1] * w, y0 + EYE_Y * h), False
    (tlx, tly), (trx, try_) = template_eyes(size, margin)
    dx, dy = right[0] - left[0], right[1] - left[1]
    roll = math.degrees(math.atan2(dy, dx))
    scale = (trx - tlx) / max(math.hypot(dx, dy), 1e-6)
    mid = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)
    matrix = cv2.getRotationMatrix2D(mid, roll, scale)
    matrix[0, 2] += (tlx + trx) / 2 - mid[0]
    matrix[1, 2] += (tly + try_) / 2 - mid[1]
    image = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(image, roll, from_eyes, matrix)
