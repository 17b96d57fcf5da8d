"""Small 2-D geometry for drawing faces: curves as point arrays and the face-to-pixel map.

Only ``+ - * /`` and ``sqrt`` are done with numpy (correctly rounded everywhere);
sines and cosines come from :mod:`math` on scalars, so coordinates, and hence
pixels, come out the same on every machine whatever SIMD code numpy picks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Points = np.ndarray  # float64 [N, 2]


def _unit_circle(n: int) -> np.ndarray:
    return np.array([(math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)) for k in range(n)])


_CIRCLES: dict[int, np.ndarray] = {}


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> Points:
    """``n`` points on the axis-aligned ellipse with centre ``(cx, cy)`` and radii ``rx, ry``."""
    circle = _CIRCLES.get(n)
    if circle is None:
        circle = _CIRCLES[n] = _unit_circle(n)
    return circle * (rx, ry) + (cx, cy)


def arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 12) -> Points:
    """Points on an elliptic arc from angle ``start`` to ``stop`` (radians, 0 = +x, clockwise on screen)."""
    angles = [start + (stop - start) * k / (n - 1) for k in range(n)]
    return np.array([(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles])


def bezier(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 10) -> Points:
    """``n`` points on the quadratic Bezier curve with control point ``p1``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c = np.asarray(p0, float), np.asarray(p1, float), np.asarray(p2, float)
    return (1 - t) * (1 - t) * a + 2 * (1 - t) * t * b + t * t * c


def through3(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 9) -> Points:
    """``n`` points of the parabola ``y(x)`` through three points with distinct ``x`` (Lagrange)."""
    (x0, y0), (x1, y1), (x2, y2) = p0, p1, p2
    x = np.linspace(x0, x2, n)
    y = (
        y0 * (x - x1) * (x - x2) / ((x0 - x1) * (x0 - x2))
        + y1 * (x - x0) * (x - x2) / ((x1 - x0) * (x1 - x2))
        + y2 * (x - x0) * (x - x1) / ((x2 - x0) * (x2 - x1))
    )
    return np.stack([x, y], axis=1)


@dataclass(frozen=True)
class FaceToPixels:
    """The map from face units to canvas pixels: a yaw-like depth shift, roll, scale, translation.

    ``yaw`` shifts a point sideways in proportion to its ``depth`` (0 on the face
    outline, about 1 at the nose tip) and narrows the face a little, which reads as
    a head turned by up to about 30 degrees without a 3-D model.
    """

    scale: float
    cx: float
    cy: float
    roll: float = 0.0
    yaw: float = 0.0

    def __call__(self, pts: Points, depth: float = 0.0) -> list[float]:
        """Flat ``[x0, y0, x1, y1, ...]`` pixel coordinates of ``pts`` (as ImageDraw takes them)."""
        return self.array(pts, depth).ravel().tolist()

    def array(self, pts: Points, depth: float = 0.0) -> np.ndarray:
        """Pixel coordinates ``[N, 2]`` of ``pts`` at ``depth``."""
        c, s = math.cos(self.roll), math.sin(self.roll)
        x = pts[:, 0] * (1.0 - 0.12 * abs(self.yaw)) + self.yaw * depth * 0.22
        y = pts[:, 1]
        out = np.empty((len(pts), 2))
        out[:, 0] = self.cx + self.scale * (c * x - s * y)
        out[:, 1] = self.cy + self.scale * (s * x + c * y)
        return out

    def width(self, w: float) -> int:
        """A line width of ``w`` face units in pixels (at least 1)."""
        return max(1, int(round(w * self.scale)))
