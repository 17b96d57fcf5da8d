"""The options of ``fsfer episode-train`` and ``fsfer pretrain``, with the defaults of each shown in ``--help``,
and how a command line becomes a RunConfig (or the changes of a ``--resume``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Optional

import typer

from fsfer.errors import ConfigError


def _shown(value: Any) -> str | bool:
    """A default as ``--help`` shows it (False: show none)."""
    if value is None or value == "" or value == [] or value == {}:
        return False
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def run_options(defaults) -> SimpleNamespace:
    """Annotated option types for a command whose defaults are the RunConfig ``defaults``."""

    def option(kind: Any, decls: str, help: str, field: str | None = None, show: Any = None) -> Any:
        default = show if show is not None else (getattr(defaults, field) if field else None)
        return Annotated[kind, typer.Option(*decls.split(), help=help, show_default=_shown(default))]

    num, text, flag = Optional[int], Optional[str], Optional[bool]
    return SimpleNamespace(
        config=option(Optional[Path], "--config", "TOML file holding any option below; options given here override it."),
        data=option(Optional[list[str]], "--data", "Data spec FORMAT:ROOT[?k=v,...]; repeatable.", show="the protocol's own; synth"),
        protocol=option(text, "--protocol", "Protocol name (episodes/NAME.toml) or PATH.toml.", "protocol"),
        base_classes=option(text, "--base-classes", "Comma-separated base classes (instead of --protocol)."),
        val_classes=option(text, "--val-classes", "Comma-separated validation classes.", show="carved from base"),
        novel_classes=option(text, "--novel-classes", "Comma-separated novel (test) classes."),
        backbone=option(text, "--backbone", "Embedder name (see `fsfer models list`).", "backbone"),
        weights=option(text, "--weights", "Local state-dict file for the backbone (e.g. MS-Celeb or ImageNet ResNet-18)."),
        method_option=option(Optional[list[str]], "--method-option", "A method option KEY=VALUE (repeatable), e.g. lambda_dist=0.7."),
        backbone_option=option(Optional[list[str]], "--backbone-option", "A backbone option KEY=VALUE (repeatable), e.g. num_heads=2."),
        test_way=option(num, "--test-way", "Ways of the validation and test episodes.", show="the protocol's setting, else --n-way"),
        test_shot=option(num, "--test-shot", "Shots of the validation and test episodes.", show="the protocol's setting, else --k-shot"),
        test_query=option(num, "--test-query", "Queries per class of the validation and test episodes.", show="the protocol's setting, else 15"),
        disjoint_subjects=option(flag, "--disjoint-subjects/--no-disjoint-subjects", "Keep each class's support subjects out of its query.", show="on whenever every image has a subject"),
        allow_small=option(flag, "--allow-small/--no-allow-small", "Let a class with too few images (or subjects) give a smaller query instead of an error.", "allow_small"),
        lr=option(Optional[float], "--lr", "Learning rate.", "lr"),
        optimizer=option(text, "--optimizer", "adam or sgd (SGD with momentum 0.9).", "optimizer"),
        weight_decay=option(Optional[float], "--weight-decay", "Weight decay.", "weight_decay"),
        scheduler=option(text, "--scheduler", "none, step or cosine.", "scheduler"),
        step_size=option(num, "--step-size", "Steps between learning-rate drops of --scheduler step.", "step_size"),
        gamma=option(Optional[float], "--gamma", "Learning-rate factor of each --scheduler step drop.", "gamma"),
        grad_clip=option(Optional[float], "--grad-clip", "Gradient-norm clip (0 = off).", "grad_clip"),
        augment=option(flag, "--augment/--no-augment", "Augment training images on the device.", "augment"),
        image_size=option(num, "--image-size", "Image side in pixels.", "image_size"),
        device=option(text, "--device", "auto, cpu, cuda or mps.", "device"),
        amp=option(flag, "--amp/--no-amp", "bf16 autocast on CUDA.", "amp"),
        channels_last=option(flag, "--channels-last/--no-channels-last", "channels_last memory format.", "channels_last"),
        store_on_device=option(flag, "--store-on-device/--no-store-on-device", "Keep the decoded images on the GPU (CUDA only).", "store_on_device"),
        seed=option(num, "--seed", "Seed of the episodes, batches and initialisation.", "seed"),
        val_episodes=option(num, "--val-episodes", "Size of the fixed validation set.", "val_episodes"),
        test_episodes=option(num, "--test-episodes", "Novel-class test episodes at the end.", "test_episodes"),
        resume=Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.pt, with its own config.toml (a resume may change only its length, --device, --amp, --val-every and --save-every).")],
        force=Annotated[bool, typer.Option("--force", help="Replace the run in --out.")],
        tensorboard=option(flag, "--tensorboard/--no-tensorboard", "Also write TensorBoard event files to DIR/tensorboard (needs the tensorboard package).", "tensorboard"),
        quiet=Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (results and errors still print).")],
    )


def parse_pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    """``KEY=VALUE`` items -> a dict; values are read as TOML (numbers, true/false, lists), else kept as text."""
    import tomllib

    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{option} {item!r}: write KEY=VALUE, e.g. {option} num_heads=2")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out


def config_from_options(config: Path | None, given: dict[str, Any], base=None):
    """The RunConfig of a command line: ``base`` (or the defaults), then the ``--config`` file, then the options given.

    ``method_option`` / ``backbone_option`` (``KEY=VALUE`` lists) add to the file's tables.
    """
    from fsfer.engine.config import RunConfig, config_from_dict, load_config

    given = dict(given)
    cfg = load_config(config, base=base) if config is not None else (base or RunConfig())
    for name in ("method", "backbone"):
        pairs = parse_pairs(given.pop(f"{name}_option", None), f"--{name}-option")
        if pairs:
            given[f"{name}_options"] = {**getattr(cfg, f"{name}_options"), **pairs}
    cfg = config_from_dict({k: v for k, v in given.items() if v is not None}, "command line", base=cfg)
    if given.get("base_classes") and given.get("protocol") is None:
        cfg.protocol = ""
    return cfg


def resume_changes(config: Path | None, given: dict[str, Any]) -> dict[str, Any]:
    """The options given with ``--resume`` (a ``--config`` file cannot go with it: the run keeps its own)."""
    if config is not None:
        raise ConfigError(f"--config {config}: a resumed run keeps its own config.toml; drop --config (or --resume)")
    return {k: v for k, v in given.items() if v is not None and v != []}
