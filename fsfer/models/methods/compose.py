"""Compound expressions from basic ones with no compound example: composed prototypes.

Du, Tao & Martinez, "Compound facial expressions of emotion", PNAS 2014: each of the 15
compound categories is made of the action units of two basic ones (happily surprised
from happiness and surprise, ...; appalled and hatred from anger and disgust, awed from
fear and surprise). A metric method's summary of the basic classes (prototypes, class
maps, the labelled support of matching networks) is combined per compound: the mean of
its two components (``weighting="mean"``), or weighted by how many of the compound's
AUs each component shares (``weighting="au"``; AU sets: core and variable AUs of the
paper's Table 1, :data:`fsfer.synth.aus.CATEGORIES`). Nothing is learned.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from fsfer.errors import ConfigError
from fsfer.models.methods.base import MetricMethod

#: The two basic components of each compound category (Du et al. 2014).
COMPONENTS: dict[str, tuple[str, str]] = {
    "happily_surprised": ("happiness", "surprise"),
    "happily_disgusted": ("happiness", "disgust"),
    "sadly_fearful": ("sadness", "fear"),
    "sadly_angry": ("sadness", "anger"),
    "sadly_surprised": ("sadness", "surprise"),
    "sadly_disgusted": ("sadness", "disgust"),
    "fearfully_angry": ("fear", "anger"),
    "fearfully_surprised": ("fear", "surprise"),
    "fearfully_disgusted": ("fear", "disgust"),
    "angrily_surprised": ("anger", "surprise"),
    "disgustedly_surprised": ("disgust", "surprise"),
    "angrily_disgusted": ("anger", "disgust"),
    "appalled": ("anger", "disgust"),
    "hatred": ("anger", "disgust"),
    "awed": ("fear", "surprise"),
}
WEIGHTINGS = ("mean", "au")


def components(compounds: Sequence[str]) -> list[tuple[str, str]]:
    """The basic components of each compound; a class with none known is a ConfigError naming it."""
    unknown = [c for c in compounds if c not in COMPONENTS]
    if unknown:
        raise ConfigError(
            f"--compose: {unknown[0]!r} is not a compound expression with known components (Du et al. 2014: "
            f"{', '.join(COMPONENTS)}); compose only compound classes"
        )
    return [COMPONENTS[c] for c in compounds]


def composition_weights(compounds: Sequence[str], basics: Sequence[str], weighting: str = "mean") -> torch.Tensor:
    """``[len(compounds), len(basics)]``: each row the weights of the compound's two components (summing to 1)."""
    from fsfer.synth.aus import CATEGORIES

    if weighting not in WEIGHTINGS:
        raise ConfigError(f"--compose-weights {weighting!r}: use one of {', '.join(WEIGHTINGS)}")
    index = {b: i for i, b in enumerate(basics)}
    weights = torch.zeros(len(compounds), len(basics))
    for row, (compound, parts) in enumerate(zip(compounds, components(compounds))):
        missing = [p for p in parts if p not in index]
        if missing:
            raise ConfigError(f"--compose: {compound} needs images of {missing[0]}, which the basic support lacks")
        if weighting == "au":
            shared = [len(CATEGORIES[compound].aus & CATEGORIES[p].aus) for p in parts]
            total = sum(shared) or 2
            share = [s / total if sum(shared) else 0.5 for s in shared]
        else:
            share = [0.5, 0.5]
        for part, w in zip(parts, share):
            weights[row, index[part]] += w
    return weights


def check_composable(method: nn.Module) -> None:
    """ConfigError unless ``method`` summarises classes it can compose (a metric method)."""
    if not isinstance(method, MetricMethod):
        raise ConfigError(
            f"--compose needs a metric method with class prototypes or maps (protonet, cosine, simpleshot, crn, "
            f"relation, matching); {type(method).__name__} adapts by gradient steps"
        )


def compose_prototypes(
    method: nn.Module,
    basic_support: torch.Tensor,
    basic_labels: Sequence[str],
    compounds: Sequence[str],
    weighting: str = "mean",
) -> Any:
    """Adapt ``method`` to ``compounds`` from basic-emotion images only, zero-shot.

    ``basic_support`` ``[N, C, H, W]`` (normalised float) with their class names
    ``basic_labels`` ``[N]``; afterwards ``method.predict(queries)`` scores queries against
    the compounds, in the order given. Returns the composed summary.
    """
    check_composable(method)
    basics = list(dict.fromkeys(basic_labels))
    weights = composition_weights(compounds, basics, weighting).to(basic_support.device)
    labels = torch.tensor([basics.index(b) for b in basic_labels], device=basic_support.device)
    with torch.no_grad():
        summary = method.summarise(method.embedder(basic_support), labels, len(basics))
    composed = method.compose(summary, weights)
    method._adapted = composed
    return composed
