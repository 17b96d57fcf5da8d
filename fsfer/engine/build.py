"""Turn a RunConfig into the pieces of a run: device, protocol, model, optimiser, scheduler."""

from __future__ import annotations

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


def build_model(cfg: RunConfig) -> torch.nn.Module:
    """The method of the config around its backbone (with local weights when ``cfg.weights`` is set)."""
    from fsfer.models.registry import build_embedder, build_method

    options: dict[str, Any] = dict(cfg.backbone_options)
    if cfg.weights:
        options["weights"] = cfg.weights
    embedder = build_embedder(cfg.backbone, **options)
    clash = sorted({"image_size", "n_way"} & set(cfg.method_options))
    if clash:
        raise ConfigError(f"method_options must not set {', '.join(clash)}; they come from the run's own options")
    return build_method(
        cfg.method, embedder, image_size=cfg.image_size, n_way=max(cfg.n_way, cfg.eval_way), **cfg.method_options
    )


def build_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(cfg: RunConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per training episode: ``step`` halves (``gamma``) every ``step_size`` episodes."""
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.episodes)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
