"""RunConfig: every option of ``fsfer episode-train`` and ``fsfer pretrain``, from defaults, a TOML file and the command line.

The resolved config is saved as ``DIR/config.toml`` so any run can be repeated
exactly (``fsfer episode-train --config DIR/config.toml``, ``fsfer pretrain --config ...``).
The two commands share every option; ``epochs`` ... ``classifier`` are pretraining's
own, and in a pretraining run ``method`` is the metric head of its validation and test
episodes, and ``val_every``, ``save_every`` and ``step_size`` count epochs.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from fsfer.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
#: The episode shape when neither the options nor the protocol's [setting] table give it
#: (test_way and test_shot 0: the same as training).
SETTING_DEFAULTS: dict[str, int] = {"n_way": 5, "k_shot": 1, "q_query": 5, "test_way": 0, "test_shot": 0, "test_query": 15}
OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "step", "cosine")
CLASSIFIERS = ("linear", "cosine")
#: Metric heads that need no training of their own: those a pretrained embedder is validated and tested with.
PRETRAIN_HEADS = ("protonet", "cosine", "simpleshot")
#: What ``fsfer pretrain`` changes from RunConfig's defaults (those of episode-train): SGD with
#: momentum and a cosine schedule over epochs (the recipe of RFS and SimpleShot), validation
#: and ``last.pt`` every epoch, and ProtoNet on pooled features as the validation head.
PRETRAIN_DEFAULTS: dict[str, object] = {
    "method": "protonet", "optimizer": "sgd", "lr": 0.05, "weight_decay": 5e-4, "scheduler": "cosine",
    "step_size": 10, "val_every": 1, "save_every": 1, "grad_clip": 0.0, "channels_last": True,
}


@dataclass
class RunConfig:
    """One training run. Empty ``data`` means the protocol's default data (SynthFER)."""

    data: list[str] = field(default_factory=list)
    protocol: str = "synth-basic-to-compound"
    base_classes: list[str] = field(default_factory=list)
    val_classes: list[str] = field(default_factory=list)
    novel_classes: list[str] = field(default_factory=list)
    method: str = "crn"
    backbone: str = "conv4"
    method_options: dict[str, Any] = field(default_factory=dict)
    backbone_options: dict[str, Any] = field(default_factory=dict)
    weights: str = ""
    #: None: the protocol's literature setting (its [setting] table), else SETTING_DEFAULTS
    n_way: int | None = None
    k_shot: int | None = None
    q_query: int | None = None
    episodes: int = 1000
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    scheduler: str = "step"
    step_size: int = 250
    gamma: float = 0.5
    grad_clip: float = 0.5
    image_size: int = 64
    augment: bool = True
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False
    store_on_device: bool = True
    seed: int = 0
    val_every: int = 100
    val_episodes: int = 100
    save_every: int = 100
    test_episodes: int = 600
    test_way: int | None = None
    test_shot: int | None = None
    test_query: int | None = None
    #: None (``"auto"`` in a file): subject-disjoint episodes whenever every image has a subject
    disjoint_subjects: bool | None = None
    allow_small: bool = False
    #: an fsfer checkpoint whose embedder starts the training (``episode-train --init``)
    init: str = ""
    #: pretraining (``fsfer pretrain``): epochs over the base rows, images per batch (per process),
    #: label smoothing of the cross-entropy, class-balanced batches, and the classifier
    #: (``linear``, or ``cosine``: Baseline++)
    epochs: int = 30
    batch_size: int = 64
    label_smoothing: float = 0.0
    balanced: bool = False
    classifier: str = "linear"
    #: also write TensorBoard event files (``DIR/tensorboard``; needs the ``tensorboard`` package)
    tensorboard: bool = False
    out: str = ""

    def with_setting(self, setting: dict[str, int] | None = None) -> "RunConfig":
        """A copy whose unset episode shape (``n_way`` ... ``test_query``) comes from ``setting``
        (a protocol's literature setting), else from :data:`SETTING_DEFAULTS`."""
        setting = setting or {}
        filled = {k: setting.get(k, d) for k, d in SETTING_DEFAULTS.items() if getattr(self, k) is None}
        return dataclasses.replace(self, **filled)

    def validate(self, origin: str = "config") -> "RunConfig":
        """ConfigError naming the first bad value (``origin`` names the file or the option source)."""
        shape = self.with_setting()  # an unset episode shape is checked as its defaults
        positive = ("n_way", "k_shot", "q_query", "episodes", "image_size", "val_every", "val_episodes", "save_every",
                    "test_episodes", "test_query", "step_size", "epochs", "batch_size")
        for name in positive:
            if getattr(shape, name) < 1:
                raise ConfigError(f"{origin}: {name} must be at least 1; got {getattr(shape, name)}")
        for name in ("test_way", "test_shot"):
            if getattr(shape, name) < 0:
                raise ConfigError(f"{origin}: {name} must be 0 (same as training) or more")
        if self.lr <= 0:
            raise ConfigError(f"{origin}: lr must be positive; got {self.lr}")
        if self.grad_clip < 0 or self.weight_decay < 0 or not 0 < self.gamma <= 1:
            raise ConfigError(f"{origin}: grad_clip and weight_decay must be >= 0 and gamma in (0, 1]")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"{origin}: label_smoothing must be in [0, 1); got {self.label_smoothing}")
        for name, allowed in (("device", DEVICES), ("optimizer", OPTIMIZERS), ("scheduler", SCHEDULERS),
                              ("classifier", CLASSIFIERS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{origin}: {name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if bool(self.base_classes) != bool(self.novel_classes):
            raise ConfigError(f"{origin}: base_classes and novel_classes go together")
        return self

    @property
    def eval_way(self) -> int:
        """Ways of the validation and test episodes (``test_way``, or ``n_way`` when 0)."""
        return self.test_way or self.n_way or SETTING_DEFAULTS["n_way"]

    @property
    def eval_shot(self) -> int:
        """Shots of the validation and test episodes (``test_shot``, or ``k_shot`` when 0)."""
        return self.test_shot or self.k_shot or SETTING_DEFAULTS["k_shot"]

    def default_out(self, kind: str = "episode-train") -> str:
        """When ``out`` is not set: ``runs/<protocol>-<method>-<backbone>-<N>w<K>s``, or
        ``runs/<protocol>-pretrain-<backbone>`` for a pretraining run."""
        proto = "custom" if self.base_classes else Path(self.protocol).stem
        if kind == "pretrain":
            return self.out or f"runs/{proto}-pretrain-{self.backbone}"
        n_way, k_shot = self.n_way or SETTING_DEFAULTS["n_way"], self.k_shot or SETTING_DEFAULTS["k_shot"]
        return self.out or f"runs/{proto}-{self.method}-{self.backbone}-{n_way}w{k_shot}s"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self, path: str | Path | None = None, command: str = "episode-train") -> str:
        """The config as TOML (scalars and lists first, then the option tables).

        The first line is a ``fsfer <command>`` that repeats the run; given the file's own
        ``path`` it names it, and an output folder beside the run's own so the two never collide.
        """
        if path is None:
            repeat = f"fsfer {command} --config config.toml --out OTHER_DIR"
        else:
            out = Path(self.out or self.default_out(command))
            repeat = f"fsfer {command} --config {path} --out {out.parent / (out.name + '-repeat')}"
        lines = [f"# fsfer {command} config; repeat this run with: {repeat}"]
        tables = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                if f.name == "disjoint_subjects":
                    lines.append(f'{f.name} = "auto"')
                continue  # an unset episode shape: the protocol's setting decides
            if isinstance(value, dict):
                tables.append((f.name, value))
            else:
                lines.append(f"{f.name} = {_toml_value(value)}")
        for name, table in tables:
            lines.append(f"\n[{name}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to a TOML config")


def _coerce(name: str, value: Any, kind: Any, origin: str) -> Any:
    """``value`` checked against the field type (ints are accepted for floats)."""
    args = [a for a in getattr(kind, "__args__", ()) if a is not type(None)]
    if type(None) in getattr(kind, "__args__", ()):  # Optional: "auto" (or nothing) means unset
        if value is None or value == "auto":
            return None
        kind = args[0]
    origin_type = getattr(kind, "__origin__", kind)
    if origin_type is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{origin}: {name} must be a list of strings; got {value!r}")
        return list(value)
    if origin_type is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {name} must be a table; got {value!r}")
        return dict(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {name} must be true or false; got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: {name} must be an integer; got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{origin}: {name} must be a number; got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: {name} must be a string; got {value!r}")
    return value


def config_from_dict(raw: dict[str, Any], origin: str, base: RunConfig | None = None) -> RunConfig:
    """``base`` (or the defaults) updated with ``raw``; unknown keys and wrong types are ConfigErrors."""
    hints = get_type_hints(RunConfig)
    known = {f.name for f in fields(RunConfig)}
    updates = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown key {key!r} (known keys: {', '.join(sorted(known))})")
        updates[key] = _coerce(key, value, hints[key], origin)
    return dataclasses.replace(base or RunConfig(), **updates)


def load_config(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """A RunConfig from a TOML file (every key optional; missing ones from ``base``, else the defaults)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    return config_from_dict(raw, str(path), base=base)
