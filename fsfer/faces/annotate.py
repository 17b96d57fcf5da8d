"""Draw predictions on a photo: each face's box and its predicted class with the score."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

COLOURS = ((230, 57, 70), (42, 157, 143), (233, 196, 106), (69, 123, 157), (244, 162, 97), (131, 56, 236))


def annotate(photo: str | Path, predictions: Sequence, classes: Sequence[str]) -> Image.Image:
    """The photo with a box per predicted face (``prediction.box``), labelled ``class score``, one colour per class."""
    image = Image.open(photo).convert("RGB")
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 250))
    try:
        font = ImageFont.load_default(size=max(12, max(image.size) // 40))
    except TypeError:  # Pillow < 10.1: no sizes for the default font
        font = ImageFont.load_default()
    for p in predictions:
        if p.box is None:
            continue
        colour = COLOURS[list(classes).index(p.label) % len(COLOURS)]
        x0, y0, x1, y1 = p.box
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        text = f"{p.label} {p.score:.2f}"
        left, top, right, bottom = draw.textbbox((x0, y0), text, font=font)
        lift = bottom - top + 2 * width
        ty = y0 - lift if y0 - lift >= 0 else y1
        draw.rectangle((x0, ty, x0 + right - left + 2 * width, ty + lift), fill=colour)
        draw.text((x0 + width, ty + width - (top - y0)), text, fill=(255, 255, 255), font=font)
    return image
