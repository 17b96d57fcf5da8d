"""Rendering one SynthFER image: identity + AUs + scene -> ``uint8 [size, size, 3]``.

The face is drawn with Pillow at an integer multiple of the output size (at least
128 px) and box-filtered down, which anti-aliases the edges; the domain's blur,
light and noise are applied at the output size. Every random draw comes from the
image's own scene stream, keyed by ``(seed, subject, category, index, domain)``.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw, ImageFilter

from fsfer.synth.catalog import SynthImage, category_code, domain_code, identity
from fsfer.synth.face import Expression, draw_face
from fsfer.synth.scene import Scene, background, draw_occluder, face_to_pixels, finish, sample_scene
from fsfer.synth.seeding import SCENE, SESSION, stream

#: The smallest canvas the face is drawn on before it is reduced to the output size.
MIN_CANVAS = 128


def supersampling(size: int) -> int:
    """The drawing canvas is ``size * supersampling(size)`` pixels: at least 2x and at least 128 px."""
    return max(2, -(-MIN_CANVAS // size))


def render_image(image: SynthImage, size: int = 64, scene: Scene | None = None) -> np.ndarray:
    """``uint8 [size, size, 3]`` pixels of ``image``; ``scene`` overrides its own (for tests and figures)."""
    keys = (image.subject, category_code(image.category), image.index, domain_code(image.domain))
    rng = stream(image.seed, SCENE, *keys)
    session = stream(image.seed, SESSION, image.subject, domain_code(image.domain))
    drawn = sample_scene(rng, image.domain, session)
    scene = scene if scene is not None else drawn
    ss = supersampling(size)
    canvas = background(scene, size * ss)
    draw = ImageDraw.Draw(canvas, "RGBA")
    ident = identity(image.seed, image.subject)
    tf = face_to_pixels(scene, size * ss, ident)
    draw_face(draw, tf, ident, Expression(image.aus, image.side))
    draw_occluder(draw, tf, scene, ident)
    small = canvas.reduce(ss)
    if scene.blur > 0:
        small = small.filter(ImageFilter.GaussianBlur(scene.blur * size / 64.0))
    return finish(np.asarray(small), scene, rng)
