"""The registries of embedders and methods: name -> constructor.

Each module under ``fsfer/models/embedders/`` (``fsfer/models/methods/``) exposes
``EMBEDDERS`` (``METHODS``), a dict of name -> constructor; to add one, write the module
and add it to the tuple in :func:`all_embedders` (:func:`all_methods`).

Embedders: ``conv4`` (RelationNet/CRN encoder, pool after blocks 1-2: 84 -> 64x19x19),
``conv4-pool`` (ProtoNet Conv-4, pool after every block: 84 -> 64x5x5), ``resnet12``
(84 -> 640x5x5), and the FER papers' backbones: ``resnet18`` (224 -> 512x7x7), ``irse50``
(IR-50, 112 -> 512x7x7), ``dan`` (DAN, 224 -> 512x1x1), ``dacl`` (DACL, 224 -> 512x7x7),
``vtff`` (VTFF, 224 -> 768x1x1), ``transfer`` (TransFER, 112 -> 768x1x1).
Methods: ``crn``, ``relation``, ``protonet``, ``matching``, ``cosine``, ``simpleshot``, ``maml``, ``anil``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from fsfer.errors import ConfigError, ModelError


def all_embedders() -> dict[str, Callable[..., nn.Module]]:
    """Every embedder constructor by name."""
    from fsfer.models.embedders import conv4, dacl, dan, irse, resnet12, resnet18, transfer, vtff

    modules = (conv4, resnet12, resnet18, irse, dan, dacl, vtff, transfer)
    return {name: ctor for module in modules for name, ctor in module.EMBEDDERS.items()}


def all_methods() -> dict[str, Callable[..., nn.Module]]:
    """Every method constructor by name; each takes the embedder first."""
    from fsfer.models.methods import cosine, crn, maml, matching, protonet, relation, simpleshot

    modules = (crn, relation, protonet, matching, cosine, simpleshot, maml)
    return {name: ctor for module in modules for name, ctor in module.METHODS.items()}


def check_options(ctor: Callable[..., Any], cfg: dict[str, Any], what: str, skip: int = 0) -> None:
    """Refuse options the constructor does not take (:class:`ConfigError` listing the ones it does)."""
    params = list(inspect.signature(ctor).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    known = [p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ConfigError(f"{what} has no option(s) {', '.join(unknown)}; its options: {', '.join(known) or 'none'}")


def build_embedder(name: str, **cfg: Any) -> nn.Module:
    """The embedder called ``name`` built with ``cfg``; ``forward([B, 3, H, W]) -> [B, C, h, w]``.

    An unknown name raises :class:`ModelError` listing the known ones; an unknown option :class:`ConfigError`.
    """
    constructors = all_embedders()
    if name not in constructors:
        raise ModelError(f"unknown embedder {name!r}; known embedders: {', '.join(constructors)}")
    check_options(constructors[name], cfg, f"embedder {name!r}")
    embedder = constructors[name](**cfg)
    if not hasattr(embedder, "out_channels"):
        raise ModelError(f"embedder {name!r} has no out_channels attribute")
    return embedder


def build_method(
    name: str,
    embedder: nn.Module | str,
    *,
    image_size: int | tuple[int, int] | None = None,
    n_way: int | None = None,
    **cfg: Any,
) -> nn.Module:
    """The few-shot method called ``name`` around ``embedder`` (a module, or an embedder name built with defaults).

    ``method(episode) -> (logits [n_query, n_way], losses)``; see :mod:`fsfer.models.methods.base`.
    ``image_size`` (of the episodes' images) and ``n_way`` (the most ways an episode will
    have) are facts of the run that a caller may pass to every method: they reach the
    methods that need them (``crn``, ``relation``, ``matching`` size layers by the image;
    ``maml``, ``anil`` size their head by the ways) and are ignored by the others.
    An unknown name raises :class:`ModelError` listing the known ones; an unknown option :class:`ConfigError`.
    """
    constructors = all_methods()
    if name not in constructors:
        raise ModelError(f"unknown method {name!r}; known methods: {', '.join(constructors)}")
    if isinstance(embedder, str):
        embedder = build_embedder(embedder)
    if not isinstance(embedder, nn.Module):
        raise ModelError(f"method {name!r} needs an embedder nn.Module; got {type(embedder).__name__}")
    ctor = constructors[name]
    check_options(ctor, cfg, f"method {name!r}", skip=1)
    accepted = inspect.signature(ctor).parameters
    for key, value in (("image_size", image_size), ("n_way", n_way)):
        if value is not None and key in accepted:
            cfg[key] = value
    return ctor(embedder, **cfg)
