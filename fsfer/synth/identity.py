"""Subjects: the fixed look of one synthetic person.

An :class:`Identity` holds everything that makes a face that person's face and
never changes with the expression: face shape, skin tone, the size and placement
of eyes, brows, nose and mouth, hair, glasses, how deep the resting folds are and
how strongly the person expresses. It is drawn from its own random stream keyed by
``(seed, subject)``, so the same subject looks the same in every category, image and
domain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fsfer.synth.seeding import IDENTITY, stream

RGB = tuple[int, int, int]

#: Skin tones from light to dark; a subject's tone is interpolated between neighbours.
SKIN_TONES: tuple[RGB, ...] = (
    (244, 212, 188), (228, 180, 150), (205, 150, 115), (170, 115, 82), (128, 84, 58), (92, 60, 42),
)
HAIR_COLOURS: tuple[RGB, ...] = (
    (28, 22, 20), (58, 40, 30), (96, 64, 40), (128, 66, 38), (186, 150, 96), (150, 146, 142),
)
IRIS_COLOURS: tuple[RGB, ...] = (
    (70, 45, 30), (40, 28, 22), (80, 110, 150), (85, 110, 70), (110, 85, 50), (110, 115, 120),
)
SHIRT_COLOURS: tuple[RGB, ...] = (
    (60, 70, 110), (150, 40, 45), (50, 50, 55), (220, 220, 215), (70, 120, 80), (170, 140, 90), (90, 60, 120),
)
#: Hair styles: short crop, long hair behind the head, straight bangs, receding/bald.
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bangs", "bald")


@dataclass(frozen=True)
class Identity:
    """One subject's fixed geometry and colours, in face units (face half-width about 0.9).

    The face frame has its origin at the centre of the head, ``x`` to the image's
    right and ``y`` down; the eyes sit near ``y = 0`` and the chin near ``y = 1.1``.
    """

    subject: int
    face_w: float
    face_top: float
    chin_len: float
    jaw: float
    skin: RGB
    eye_y: float
    eye_sep: float
    eye_w: float
    eye_open: float
    eye_low: float
    eye_tilt: float
    iris_r: float
    iris: RGB
    brow_gap: float
    brow_thick: float
    brow_len: float
    brow_arch: float
    brow: RGB
    nose_len: float
    nose_w: float
    mouth_gap: float
    mouth_w: float
    lip_up: float
    lip_lo: float
    lips: RGB
    hair_style: str
    hair: RGB
    hair_volume: float
    hairline: float
    glasses: bool
    glasses_round: bool
    glasses_colour: RGB
    shirt: RGB
    fold: float
    expressiveness: float

    @property
    def nose_y(self) -> float:
        """``y`` of the nose tip (base of the nose)."""
        return self.eye_y + self.nose_len

    @property
    def mouth_y(self) -> float:
        """``y`` of the resting mouth line."""
        return self.nose_y + self.mouth_gap

    @property
    def chin_y(self) -> float:
        """``y`` of the chin at rest."""
        return self.mouth_y + self.chin_len


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _pick(rng: np.random.Generator, palette: tuple[RGB, ...]) -> RGB:
    return palette[int(rng.integers(0, len(palette)))]


def make_identity(seed: int, subject: int) -> Identity:
    """The identity of ``subject`` (a non-negative integer) under ``seed``."""
    rng = stream(seed, IDENTITY, subject)
    u = rng.uniform
    tone = u(0.0, len(SKIN_TONES) - 1.0)
    lo = min(int(tone), len(SKIN_TONES) - 2)
    skin = _mix(SKIN_TONES[lo], SKIN_TONES[lo + 1], tone - lo)
    hair = _pick(rng, HAIR_COLOURS)
    eye_w = u(0.15, 0.20)
    lips = _mix(skin, (175, 70, 75), u(0.35, 0.6))
    return Identity(
        subject=int(subject),
        face_w=u(0.80, 0.94),
        face_top=u(1.12, 1.26),
        chin_len=u(0.26, 0.34),
        jaw=u(0.25, 0.55),
        skin=skin,
        eye_y=u(-0.04, 0.04),
        eye_sep=u(0.34, 0.41),
        eye_w=eye_w,
        eye_open=u(0.070, 0.095),
        eye_low=u(0.042, 0.058),
        eye_tilt=u(-0.015, 0.03),
        iris_r=eye_w * u(0.40, 0.47),
        iris=_pick(rng, IRIS_COLOURS),
        brow_gap=u(0.17, 0.23),
        brow_thick=u(0.035, 0.06),
        brow_len=u(1.05, 1.3),
        brow_arch=u(0.02, 0.06),
        brow=_mix(hair, (20, 15, 12), 0.35),
        nose_len=u(0.36, 0.44),
        nose_w=u(0.11, 0.16),
        mouth_gap=u(0.22, 0.28),
        mouth_w=u(0.24, 0.31),
        lip_up=u(0.040, 0.060),
        lip_lo=u(0.050, 0.075),
        lips=lips,
        hair_style=HAIR_STYLES[int(rng.choice(len(HAIR_STYLES), p=[0.4, 0.3, 0.2, 0.1]))],
        hair=hair,
        hair_volume=u(0.04, 0.14),
        hairline=u(0.45, 0.62),
        glasses=bool(rng.random() < 0.2),
        glasses_round=bool(rng.random() < 0.5),
        glasses_colour=_pick(rng, ((30, 30, 30), (120, 90, 60), (160, 160, 170), (90, 20, 30))),
        shirt=_pick(rng, SHIRT_COLOURS),
        fold=u(0.08, 0.3),
        expressiveness=u(0.7, 1.0),
    )
