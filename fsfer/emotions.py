"""The canonical emotion vocabulary of fsfer and the normalisation of names.

Basic categories follow Ekman (plus neutral and contempt); the 15 compound
categories follow Du, Tao & Martinez, "Compound facial expressions of emotion",
PNAS 111(15), 2014. Per-dataset label maps live beside their readers.
"""

from __future__ import annotations

import re

NEUTRAL = "neutral"
#: The seven basic categories, in fsfer's canonical order.
BASIC: tuple[str, ...] = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger")
CONTEMPT = "contempt"
#: The 15 compound categories of Du et al. (2014), Table 1 order.
COMPOUND: tuple[str, ...] = (
    "happily_surprised",
    "happily_disgusted",
    "sadly_fearful",
    "sadly_angry",
    "sadly_surprised",
    "sadly_disgusted",
    "fearfully_angry",
    "fearfully_surprised",
    "fearfully_disgusted",
    "angrily_surprised",
    "disgustedly_surprised",
    "angrily_disgusted",
    "appalled",
    "hatred",
    "awed",
)
#: Every canonical name: the basic seven, contempt, then the compound fifteen.
ALL: tuple[str, ...] = BASIC + (CONTEMPT,) + COMPOUND

_ALIASES: dict[str, str] = {
    "neutral": "neutral", "neu": "neutral", "ne": "neutral", "calm": "neutral",
    "happiness": "happiness", "happy": "happiness", "hap": "happiness", "ha": "happiness",
    "joy": "happiness", "smile": "happiness",
    "sadness": "sadness", "sad": "sadness", "sa": "sadness",
    "surprise": "surprise", "surprised": "surprise", "sur": "surprise", "su": "surprise",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear", "fe": "fear",
    "disgust": "disgust", "disgusted": "disgust", "dis": "disgust", "di": "disgust",
    "anger": "anger", "angry": "anger", "ang": "anger", "an": "anger", "mad": "anger",
    "contempt": "contempt", "contemptuous": "contempt", "con": "contempt",
}


def _key(name: str) -> str:
    """Lower-case, with runs of spaces, dashes and dots turned into one underscore."""
    return re.sub(r"[\s\-.]+", "_", name.strip().lower()).strip("_")


def canonical(name: str) -> str | None:
    """The canonical name of an emotion label, or ``None`` when it is not an emotion.

    >>> canonical("Happy"), canonical("sadly angry"), canonical("cat")
    ('happiness', 'sadly_angry', None)
    """
    key = _key(name)
    if key in _ALIASES:
        return _ALIASES[key]
    if key in ALL:
        return key
    return None


def normalise(name: str) -> str:
    """The canonical name when ``name`` is an emotion, else ``name`` unchanged.

    Folder datasets keep class names that are not emotions as they are, so the
    toolkit is not limited to emotions.
    """
    return canonical(name) or name


def sort_classes(names: list[str] | set[str] | tuple[str, ...]) -> list[str]:
    """Class names in canonical order (basic, contempt, compound), others sorted after."""
    order = {n: i for i, n in enumerate(ALL)}
    return sorted(set(names), key=lambda n: (order.get(n, len(order)), n))
