"""Turn a RunConfig into the pieces of a run: device, protocol, model, optimiser, scheduler."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import torch

from fsfer.engine.config import RunConfig
from fsfer.errors import ConfigError
from fsfer.protocols import Protocol, load_protocol, protocol_from_classes


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else MPS, else the CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here; use --device auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: no MPS device is available here; use --device auto or cpu")
    return torch.device(name)


def resolve_protocol(cfg: RunConfig) -> Protocol:
    """The config's protocol: built from class lists when they are given, else loaded by name or path."""
    if cfg.base_classes:
        return protocol_from_classes(cfg.base_classes, cfg.novel_classes, cfg.val_classes or None)
    return load_protocol(cfg.protocol)


def resolved_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` with its unset episode shape taken from its protocol's ``[setting]`` (then the defaults)."""
    return cfg.with_setting(resolve_protocol(cfg).settings())


def build_backbone(cfg: RunConfig) -> torch.nn.Module:
    """The config's embedder, with its ``backbone_options`` (and local weights when ``cfg.weights`` is set)."""
    from fsfer.models.registry import build_embedder

    options: dict[str, Any] = dict(cfg.backbone_options)
    if cfg.weights:
        options["weights"] = cfg.weights
    return build_embedder(cfg.backbone, **options)


def build_model(cfg: RunConfig) -> torch.nn.Module:
    """The method of the config around its backbone (with local weights when ``cfg.weights`` is set)."""
    return build_head(cfg, cfg.method, build_backbone(cfg))


def build_head(cfg: RunConfig, method: str, embedder: torch.nn.Module, pretrained: bool = False) -> torch.nn.Module:
    """The few-shot method ``method`` around an existing ``embedder`` (weights shared, not copied).

    The config's ``method_options`` apply when ``method`` is the config's own. On a
    ``pretrained`` (classifier-trained) embedder, ProtoNet and cosine compare pooled
    features (``pooled = true``) unless the options say otherwise: the classifier was
    trained on them.
    """
    from fsfer.models.registry import all_methods, build_method

    options = dict(cfg.method_options) if method == cfg.method else {}
    clash = sorted({"image_size", "n_way"} & set(options))
    if clash:
        raise ConfigError(f"method_options must not set {', '.join(clash)}; they come from the run's own options")
    ctor = all_methods().get(method)
    if pretrained and ctor is not None and "pooled" in inspect.signature(ctor).parameters:
        options.setdefault("pooled", True)
    return build_method(method, embedder, image_size=cfg.image_size, n_way=max(cfg.n_way or 1, cfg.eval_way), **options)


def pretrain_embedder(cfg: RunConfig, n_classes: int) -> tuple[RunConfig, torch.nn.Module]:
    """The embedder of a pretraining run over ``n_classes`` base classes, and the config that rebuilds it.

    A backbone with per-class auxiliary state (DAN's affinity centres, DACL's sparse
    centres: option ``num_classes``) gets one per base class unless ``backbone_options`` sets it.
    """
    from fsfer.models.registry import all_embedders

    ctor = all_embedders().get(cfg.backbone)
    if ctor is not None and "num_classes" in inspect.signature(ctor).parameters and "num_classes" not in cfg.backbone_options:
        cfg = dataclasses.replace(cfg, backbone_options={**cfg.backbone_options, "num_classes": n_classes})
    return cfg, build_backbone(cfg)


def build_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(cfg: RunConfig, optimizer: torch.optim.Optimizer, total: int | None = None) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per training step (an episode; an epoch in pretraining): ``step`` multiplies the rate
    by ``gamma`` every ``step_size`` steps, ``cosine`` anneals it to 0 over ``total`` steps (default ``episodes``)."""
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total or cfg.episodes)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
