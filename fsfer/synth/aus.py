"""The facial action units SynthFER renders and the categories built from them.

The AU vocabulary follows FACS (Ekman & Friesen, *Facial Action Coding System*,
1978). The categories and their AUs follow Du, Tao & Martinez, "Compound facial
expressions of emotion", PNAS 111(15) E1454-E1462, 2014, Table 1: *core* AUs are
used by more than 70% of their subjects, *variable* AUs by the share given.
Contempt (not in that table) is a one-sided AU12 with AU14 (dimpler).

Intensities are numbers in ``[0, 1]`` (FACS grades A..E map to about 0.2..1.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fsfer import emotions

#: The 17 action units of Du et al. (2014), Table 1, in numeric order.
TABLE_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 15, 17, 20, 23, 24, 25, 26)
#: Every AU SynthFER renders: the table's 17 plus AU14 (dimpler), used by contempt only.
AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 17, 20, 23, 24, 25, 26)

#: FACS names of the rendered AUs.
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser",
    2: "outer brow raiser",
    4: "brow lowerer",
    5: "upper lid raiser",
    6: "cheek raiser",
    7: "lid tightener",
    9: "nose wrinkler",
    10: "upper lip raiser",
    11: "nasolabial deepener",
    12: "lip corner puller",
    14: "dimpler",
    15: "lip corner depressor",
    17: "chin raiser",
    20: "lip stretcher",
    23: "lip tightener",
    24: "lip pressor",
    25: "lips part",
    26: "jaw drop",
}

#: Column names of the AU intensities in Records and manifests: ``au1`` ... ``au26``.
AU_COLUMNS: tuple[str, ...] = tuple(f"au{au}" for au in AUS)

#: Sides on which an expression is drawn: both, or only the face's own left/right.
SIDES: tuple[str, ...] = ("both", "left", "right")


@dataclass(frozen=True)
class Category:
    """One expression category: AUs always on (``core``) and AUs on with a probability."""

    name: str
    core: tuple[int, ...]
    variable: tuple[tuple[int, float], ...] = ()
    one_sided: bool = False

    @property
    def aus(self) -> frozenset[int]:
        """Every AU the category may use."""
        return frozenset(self.core) | {au for au, _ in self.variable}


def _cat(
    name: str, core: tuple[int, ...], variable: dict[int, float] | None = None, one_sided: bool = False
) -> Category:
    return Category(name, core, tuple(sorted((variable or {}).items())), one_sided)


#: Du et al. (2014), Table 1, keyed by the canonical names of :mod:`fsfer.emotions`.
CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        _cat("neutral", ()),
        _cat("happiness", (12, 25), {6: 0.51}),
        _cat("sadness", (4, 15), {1: 0.60, 6: 0.50, 11: 0.26, 17: 0.67}),
        _cat("surprise", (1, 2, 25, 26), {5: 0.66}),
        _cat("fear", (1, 4, 20, 25), {2: 0.57, 5: 0.63, 26: 0.33}),
        _cat("disgust", (9, 10, 17), {4: 0.31, 24: 0.26}),
        _cat("anger", (4, 7, 24), {10: 0.26, 17: 0.52, 23: 0.29}),
        _cat("contempt", (12, 14), one_sided=True),
        _cat("happily_surprised", (1, 2, 12, 25), {5: 0.64, 26: 0.67}),
        _cat("happily_disgusted", (10, 12, 25), {4: 0.32, 6: 0.61, 9: 0.59}),
        _cat("sadly_fearful", (1, 4, 20, 25), {2: 0.46, 5: 0.24, 6: 0.34, 15: 0.30}),
        _cat("sadly_angry", (4, 15), {6: 0.26, 7: 0.48, 11: 0.20, 17: 0.50}),
        _cat("sadly_surprised", (1, 4, 25, 26), {2: 0.27, 6: 0.31}),
        _cat("sadly_disgusted", (4, 10), {1: 0.49, 6: 0.61, 9: 0.20, 11: 0.35, 15: 0.54, 17: 0.47, 25: 0.43}),
        _cat("fearfully_angry", (4, 20, 25), {5: 0.40, 7: 0.39, 10: 0.30, 11: 0.33}),
        _cat("fearfully_surprised", (1, 2, 5, 20, 25), {4: 0.47, 10: 0.35, 11: 0.22, 26: 0.51}),
        _cat("fearfully_disgusted", (1, 4, 10, 20, 25), {2: 0.64, 5: 0.50, 6: 0.26, 9: 0.28, 15: 0.33}),
        _cat("angrily_surprised", (4, 25, 26), {5: 0.35, 7: 0.50, 10: 0.34}),
        _cat("disgustedly_surprised", (1, 2, 5, 10), {4: 0.45, 9: 0.37, 17: 0.66, 24: 0.33}),
        _cat("angrily_disgusted", (4, 10, 17), {7: 0.60, 9: 0.57, 24: 0.36}),
        _cat("appalled", (4, 10), {6: 0.25, 9: 0.56, 17: 0.67, 24: 0.36}),
        _cat("hatred", (4, 10), {7: 0.57, 9: 0.27, 17: 0.63, 24: 0.37}),
        _cat("awed", (1, 2, 5, 25), {4: 0.21, 20: 0.62, 26: 0.56}),
    )
}

#: The values of the ``classes`` option and the categories each selects (contempt aside).
CLASS_SETS: dict[str, tuple[str, ...]] = {
    "basic": emotions.BASIC,
    "compound": emotions.COMPOUND,
    "all": emotions.BASIC + emotions.COMPOUND,
}

# Intensity model (FACS grades A..E ~ 0.2..1.0).
CORE_RANGE: tuple[float, float] = (0.70, 1.00)
VARIABLE_RANGE: tuple[float, float] = (0.35, 0.90)
NEUTRAL_NOISE_P = 0.25
NEUTRAL_NOISE_RANGE: tuple[float, float] = (0.02, 0.12)


def categories(classes: str = "all", contempt: bool = False) -> tuple[str, ...]:
    """The category names a ``classes`` value selects, in canonical order (:data:`fsfer.emotions.ALL`).

    ``classes`` is ``basic`` (neutral + 6), ``compound`` (15) or ``all`` (22);
    ``contempt`` adds contempt. A bad value is a ``ValueError`` (callers turn it
    into their own error).
    """
    if classes not in CLASS_SETS:
        raise ValueError(f"classes={classes!r} is not one of {', '.join(CLASS_SETS)}")
    chosen = set(CLASS_SETS[classes]) | ({emotions.CONTEMPT} if contempt else set())
    return tuple(name for name in emotions.ALL if name in chosen)


def sample_aus(category: str, rng: np.random.Generator, expressiveness: float) -> tuple[dict[int, float], str]:
    """AU intensities of one image of ``category`` and the side it is drawn on.

    Core AUs are strong (``CORE_RANGE``), each variable AU is on with its share of
    Du et al. (2014) at a weaker intensity (``VARIABLE_RANGE``); both scale with the
    subject's ``expressiveness``. Neutral shows only faint random AU noise. Values
    are rounded to 2 decimals so the table the reader lists is exactly what is drawn.
    Returns ``({au: intensity} for every AU of :data:`AUS`, side)``.
    """
    cat = CATEGORIES[category]
    out = {au: 0.0 for au in AUS}
    if not cat.core:
        for au in TABLE_AUS:
            on = rng.random() < NEUTRAL_NOISE_P
            value = rng.uniform(*NEUTRAL_NOISE_RANGE)
            if on:
                out[au] = value
    else:
        for au in cat.core:
            out[au] = expressiveness * rng.uniform(*CORE_RANGE)
        for au, share in cat.variable:
            on = rng.random() < share
            value = expressiveness * rng.uniform(*VARIABLE_RANGE)
            if on:
                out[au] = value
    side = "both"
    if cat.one_sided:
        side = SIDES[1 + int(rng.integers(0, 2))]
    return {au: round(float(min(1.0, max(0.0, v))), 2) for au, v in out.items()}, side
