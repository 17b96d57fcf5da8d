"""The two capture domains: how a face is framed, lit and spoiled.

``lab`` is like CK+ or JAFFE: frontal pose, even light, plain background, a clean
sensor. ``wild`` is like RAF-DB or SFEW: head roll, yaw-like turns, scale and
position changes, lighting gradients and colour casts, cluttered backgrounds,
blur, sensor noise and partial occlusions (hands, objects, hats, hair).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from fsfer.synth.face import D_TIP, shade
from fsfer.synth.geometry import FaceToPixels, bezier, ellipse
from fsfer.synth.identity import RGB, Identity

LAB_BACKGROUNDS: tuple[RGB, ...] = ((228, 228, 226), (205, 208, 212), (186, 200, 215), (150, 152, 155), (236, 232, 220))
#: Face units across the canvas at scale 1, and the face point at the canvas centre.
VIEW = 2.2
VIEW_CY = 0.12
#: Alignment: the eye-to-mouth distance in face units at scale 1.
ALIGN_EYE_MOUTH = 0.65

Shape = tuple[str, float, float, float, float, RGB, float]  # kind, x0, y0, x1, y1 (0..1), colour, width


@dataclass(frozen=True)
class Scene:
    """Everything about one image that is not the face: pose, framing, background, light, spoilers."""

    domain: str
    roll: float = 0.0
    yaw: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    background: tuple[RGB, RGB] = ((228, 228, 226), (228, 228, 226))
    clutter: tuple[Shape, ...] = ()
    brightness: float = 1.0
    gradient: float = 0.0
    light_dir: tuple[float, float] = (1.0, 0.0)
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    contrast: float = 1.0
    blur: float = 0.0
    noise: float = 0.0
    occluder: tuple[str, float, float, float] | None = None  # kind, x, y, size (face units)


def _colour(rng: np.random.Generator) -> RGB:
    c = rng.integers(20, 236, size=3)
    grey = int(rng.integers(40, 200))
    t = rng.uniform(0.3, 0.8)  # how far towards a grey: real backgrounds are rarely saturated
    return tuple(int(round(v + (grey - v) * t)) for v in c)  # type: ignore[return-value]


def sample_scene(rng: np.random.Generator, domain: str, session: np.random.Generator | None = None) -> Scene:
    """The scene of one image in ``domain`` (``lab`` or ``wild``), drawn from ``rng``.

    In ``lab`` the backdrop is that of the subject's session, drawn from ``session``
    (as in CK+, one backdrop per recording session); without it, from ``rng``.
    """
    u = rng.uniform
    if domain == "lab":
        pick = session if session is not None else rng
        base = LAB_BACKGROUNDS[int(pick.integers(0, len(LAB_BACKGROUNDS)))]
        return Scene(
            domain=domain,
            roll=u(-0.03, 0.03),
            scale=u(0.97, 1.03),
            dx=u(-0.01, 0.01),
            dy=u(-0.01, 0.01),
            background=(base, base),
        )
    clutter = []
    for _ in range(int(rng.integers(5, 14))):
        kind = ("rect", "ellipse", "line")[int(rng.integers(0, 3))]
        x0, y0 = u(-0.2, 1.0), u(-0.2, 1.0)
        clutter.append((kind, x0, y0, x0 + u(0.05, 0.6), y0 + u(0.05, 0.6), _colour(rng), u(0.01, 0.05)))
    angle = u(0.0, 2.0 * math.pi)
    occluder = None
    if rng.random() < 0.35:
        kind = ("hand", "object", "hat", "strand")[int(rng.integers(0, 4))]
        occluder = (kind, u(-1.0, 1.0), u(-1.0, 1.0), u(0.8, 1.2))
    blur = u(0.3, 1.2) if rng.random() < 0.6 else 0.0
    return Scene(
        domain=domain,
        roll=u(-0.3, 0.3),
        yaw=u(-0.9, 0.9),
        scale=u(0.78, 1.12),
        dx=u(-0.07, 0.07),
        dy=u(-0.07, 0.07),
        background=(_colour(rng), _colour(rng)),
        clutter=tuple(clutter),
        brightness=u(0.6, 1.2),
        gradient=u(0.1, 0.55),
        light_dir=(math.cos(angle), math.sin(angle)),
        cast=(u(0.85, 1.15), u(0.85, 1.15), u(0.85, 1.15)),
        contrast=u(0.65, 1.05),
        blur=blur,
        noise=u(2.0, 12.0),
        occluder=occluder,
    )


def background(scene: Scene, size: int) -> Image.Image:
    """The RGB canvas before the face: plain (lab) or a gradient with clutter (wild)."""
    top, bottom = scene.background
    if top == bottom and not scene.clutter:
        return Image.new("RGB", (size, size), top)
    t = (np.arange(size, dtype=np.float32) / max(size - 1, 1))[:, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t  # [size, 3]
    arr = np.broadcast_to(col[:, None, :], (size, size, 3))
    img = Image.fromarray(np.ascontiguousarray(arr.astype(np.uint8)), "RGB")
    draw = ImageDraw.Draw(img)
    for kind, x0, y0, x1, y1, colour, width in scene.clutter:
        box = [x0 * size, y0 * size, x1 * size, y1 * size]
        if kind == "rect":
            draw.rectangle(box, fill=colour)
        elif kind == "ellipse":
            draw.ellipse(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=max(1, int(width * size)))
    return img


def face_to_pixels(scene: Scene, size: int, ident: Identity) -> FaceToPixels:
    """Where the face lands on a ``size`` canvas in ``scene``.

    Like the aligned crops FER datasets ship, the face is aligned on its eyes and
    mouth: the eye line lands at a fixed height and the eye-to-mouth distance maps
    to a fixed length (:data:`ALIGN_EYE_MOUTH` face units at scale 1); the scene's
    scale, shift and roll then move it off that alignment (a little in ``lab``,
    much in ``wild``).
    """
    scale = size / VIEW * scene.scale * ALIGN_EYE_MOUTH / (ident.mouth_y - ident.eye_y)
    return FaceToPixels(
        scale=scale,
        cx=size * (0.5 + scene.dx),
        cy=size * (0.5 + scene.dy) - VIEW_CY * size / VIEW * scene.scale - ident.eye_y * scale,
        roll=scene.roll,
        yaw=scene.yaw,
    )


def draw_occluder(draw: ImageDraw.ImageDraw, tf: FaceToPixels, scene: Scene, ident: Identity) -> None:
    """Draw the scene's occluder (if any) in front of the face."""
    if scene.occluder is None:
        return
    kind, ox, oy, size = scene.occluder
    if kind == "hand":  # a hand over the mouth, chin or a cheek
        cx, cy = 0.45 * ox, ident.mouth_y + 0.15 + 0.2 * oy
        col = shade(ident.skin, 0.95)
        draw.polygon(tf(ellipse(cx, cy, 0.32 * size, 0.22 * size, 20), D_TIP), fill=col)
        for k in range(4):
            fx = cx - 0.22 * size + 0.14 * size * k
            finger = ellipse(fx, cy - 0.25 * size, 0.065 * size, 0.2 * size, 12)
            draw.polygon(tf(finger, D_TIP), fill=col)
            draw.line(tf(finger[3:10], D_TIP), fill=shade(ident.skin, 0.7), width=tf.width(0.012))
    elif kind == "object":  # a cup, phone or shoulder entering from below or a side
        cx, cy = 1.1 * ox, 0.7 + 0.3 * abs(oy)
        w, h = 0.3 * size, 0.55 * size
        pts = np.array([(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + 1.5), (cx - w, cy + 1.5)])
        tone = 60 + int(150 * abs(ox))
        draw.polygon(tf(pts, D_TIP), fill=(tone, 90, 255 - tone, 255))
    elif kind == "hat":  # a brim low over the forehead
        y = ident.eye_y - ident.brow_gap - 0.05 + 0.1 * oy
        pts = np.array([(-1.3, y - 1.2), (1.3, y - 1.2), (1.3, y + 0.02), (0.0, y + 0.06), (-1.3, y + 0.02)])
        tone = int(40 + 60 * abs(ox))
        draw.polygon(tf(pts, D_TIP), fill=(tone, tone - 10, tone - 20, 255))
    else:  # a strand of hair across one eye
        sx = 1.0 if ox >= 0 else -1.0
        top = (sx * 0.1, -1.1)
        pts = bezier(top, (sx * (ident.eye_sep + 0.2 * oy), ident.eye_y - 0.2), (sx * 0.7, ident.mouth_y), 10)
        c = ident.hair
        draw.line(tf(pts, D_TIP), fill=(c[0], c[1], c[2], 255), width=tf.width(0.07 * size), joint="curve")


def finish(pixels: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Light, contrast and sensor noise on ``uint8 [S, S, 3]`` pixels; returns ``uint8 [S, S, 3]``."""
    if scene.domain == "lab" and scene.noise == 0.0:
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    size = pixels.shape[0]
    out = pixels.astype(np.float32)
    ramp = np.arange(size, dtype=np.float32) / np.float32(max(size - 1, 1)) - np.float32(0.5)
    lx, ly = scene.light_dir
    ramp_xy = np.float32(lx) * ramp[None, :] + np.float32(ly) * ramp[:, None]
    light = np.float32(1.0) + np.float32(scene.gradient) * ramp_xy
    gain = np.asarray(scene.cast, np.float32) * np.float32(scene.brightness)
    out = out * light[:, :, None] * gain[None, None, :]
    out = (out - np.float32(128.0)) * np.float32(scene.contrast) + np.float32(128.0)
    if scene.noise > 0:
        out = out + rng.normal(0.0, scene.noise, size=out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
