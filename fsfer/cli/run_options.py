"""The options ``fsfer episode-train`` and ``fsfer pretrain`` share, and how a command line becomes a RunConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="TOML file holding any option below; options given here override it.")]
DataOption = Annotated[Optional[list[str]], typer.Option("--data", help="Data spec FORMAT:ROOT[?k=v,...]; repeatable (default: the protocol's own, synth).")]
ProtocolOption = Annotated[Optional[str], typer.Option("--protocol", help="Protocol name (episodes/NAME.toml) or PATH.toml.")]
BaseClassesOption = Annotated[Optional[str], typer.Option("--base-classes", help="Comma-separated base classes (instead of --protocol).")]
ValClassesOption = Annotated[Optional[str], typer.Option("--val-classes", help="Comma-separated validation classes (default: carved from base).")]
NovelClassesOption = Annotated[Optional[str], typer.Option("--novel-classes", help="Comma-separated novel (test) classes.")]
BackboneOption = Annotated[Optional[str], typer.Option("--backbone", help="Embedder name (see `fsfer models list`).")]
WeightsOption = Annotated[Optional[str], typer.Option("--weights", help="Local state-dict file for the backbone (e.g. MS-Celeb or ImageNet ResNet-18).")]
TestWayOption = Annotated[Optional[int], typer.Option("--test-way", help="Ways of the validation and test episodes (default: the protocol's setting, else --n-way).")]
TestShotOption = Annotated[Optional[int], typer.Option("--test-shot", help="Shots of the validation and test episodes (default: the protocol's setting, else --k-shot).")]
TestQueryOption = Annotated[Optional[int], typer.Option("--test-query", help="Queries per class of the validation and test episodes (default: the protocol's setting, else 15).")]
DisjointOption = Annotated[Optional[bool], typer.Option("--disjoint-subjects/--no-disjoint-subjects", help="Keep each class's support subjects out of its query (default: on whenever every image has a subject).")]
AllowSmallOption = Annotated[Optional[bool], typer.Option("--allow-small/--no-allow-small", help="Let a class with too few images (or subjects) give a smaller query instead of an error.")]
LrOption = Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")]
OptimizerOption = Annotated[Optional[str], typer.Option("--optimizer", help="adam or sgd.")]
SchedulerOption = Annotated[Optional[str], typer.Option("--scheduler", help="none, step or cosine.")]
GradClipOption = Annotated[Optional[float], typer.Option("--grad-clip", help="Gradient-norm clip (0 = off).")]
ImageSizeOption = Annotated[Optional[int], typer.Option("--image-size", help="Image side in pixels.")]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda or mps.")]
AmpOption = Annotated[Optional[bool], typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA.")]
ChannelsLastOption = Annotated[Optional[bool], typer.Option("--channels-last/--no-channels-last")]
SeedOption = Annotated[Optional[int], typer.Option("--seed")]
ValEpisodesOption = Annotated[Optional[int], typer.Option("--val-episodes", help="Size of the fixed validation set.")]
TestEpisodesOption = Annotated[Optional[int], typer.Option("--test-episodes", help="Novel-class test episodes at the end.")]
ResumeOption = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.pt.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace the run in --out.")]


def config_from_options(config: Path | None, given: dict[str, Any], base=None):
    """The RunConfig of a command line: ``base`` (or the defaults), then the ``--config`` file, then the options given."""
    from fsfer.engine.config import RunConfig, config_from_dict, load_config

    cfg = load_config(config, base=base) if config is not None else (base or RunConfig())
    cfg = config_from_dict({k: v for k, v in given.items() if v is not None}, "command line", base=cfg)
    if given.get("base_classes") and given.get("protocol") is None:
        cfg.protocol = ""
    return cfg
