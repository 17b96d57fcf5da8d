"""Local pretrained weights for the FER backbones: read a state dict from disk and load what fits.

Nothing is ever downloaded. Every backbone constructor in this package takes ``weights: str = ""``;
a non-empty path is read with ``torch.load(weights_only=True)`` and loaded by
:func:`load_weights`, which understands three layouts:

- **the embedder's own** ``state_dict()`` (a file saved from the same embedder): keys as they are;
- **torchvision ResNet-18** (``conv1.*``, ``bn1.*``, ``layer1.*`` .. ``layer4.*``, ``fc.*``): the layout
  of torchvision's weights and of the MS-Celeb-1M ResNet-18 files distributed with DAN and DACL;
  it fills each ResNet-18 trunk of the embedder (VTFF has two); ``fc.*`` is ignored;
- **face.evoLVe IR-50** (``input_layer.*``, ``body.N.*``, ``output_layer.*``): the layout of
  ``backbone_ir50_ms1m_epoch120.pth``; ``output_layer.*`` and units the embedder does not
  have (TransFER stops after stage 3, ``body.21`` on) are ignored.

A checkpoint may wrap its state dict under ``state_dict`` / ``model_state_dict`` / ``model``
/ ``net`` and prefix its keys with ``module.`` (DataParallel); both are undone. A missing
or unreadable file, or one of which no tensor fits, is a :class:`~fsfer.errors.ModelError`
naming the file and the layout expected. A partial match loads what fits; the counts are
returned as a :class:`WeightsReport` (which the embedders keep as ``weights_report``),
never printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fsfer.errors import ModelError

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")


@dataclass(frozen=True)
class Layout:
    """A published state-dict layout: which keys belong to it, and which of them no embedder here uses."""

    name: str
    keys: str
    belongs: Callable[[str], bool]
    unused: Callable[[str], bool]


_RESNET_TOP = re.compile(r"^(conv1|bn1|layer[1-4]|fc)\.")
_IR_TOP = re.compile(r"^(input_layer|body\.\d+|output_layer)\.")

RESNET18 = Layout(
    name="torchvision ResNet-18",
    keys="conv1.*, bn1.*, layer1.* .. layer4.*, fc.*",
    belongs=lambda key: bool(_RESNET_TOP.match(key)),
    unused=lambda key: key.startswith("fc."),
)
IR50 = Layout(
    name="face.evoLVe IR-50",
    keys="input_layer.*, body.N.*, output_layer.*",
    belongs=lambda key: bool(_IR_TOP.match(key)),
    unused=lambda key: key.startswith("output_layer."),
)


@dataclass(frozen=True)
class WeightsReport:
    """What :func:`load_weights` did with a file.

    ``layout``      the layout that matched (the embedder's own, or a :class:`Layout` name)
    ``loaded``      tensors copied into the embedder
    ``missing``     the backbone's tensors the file did not provide (left at random init)
    ``unexpected``  file keys that fit nothing
    ``ignored``     file keys of the layout that this embedder has no place for (``fc.*``, ``output_layer.*``, ...)
    ``mismatched``  keys found on both sides with different shapes (not loaded)
    ``untouched``   the embedder's other tensors (attention heads, transformer, ...), left at random init
    """

    path: str
    layout: str
    loaded: int
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    untouched: int = 0

    def summary(self) -> str:
        """One line: ``file: N loaded (layout), M missing, ...``."""
        return (
            f"{self.path}: {self.loaded} tensors loaded ({self.layout}), {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected, {len(self.ignored)} ignored, {len(self.mismatched)} mismatched, "
            f"{self.untouched} others left at random init"
        )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: unwrapped (``state_dict``, ...) and without a ``module.`` prefix.

    Raises :class:`ModelError` when the file is missing, unreadable or holds no tensors.
    """
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"weights file {str(path)!r} does not exist (weights are never downloaded; give a local file)")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ModelError(f"cannot read weights file {str(path)!r} as a PyTorch state dict ({err})") from err
    for _ in range(2):
        if isinstance(data, dict):
            wrapped = next((data[k] for k in WRAPPER_KEYS if isinstance(data.get(k), dict)), None)
            if wrapped is not None:
                data = wrapped
    if not isinstance(data, dict):
        raise ModelError(f"weights file {str(path)!r} holds a {type(data).__name__}, not a state dict")
    tensors = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelError(f"weights file {str(path)!r} holds no tensors")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def load_weights(
    module: nn.Module,
    path: str | Path,
    layout: Layout,
    prefixes: Sequence[str],
    *,
    rename: Callable[[str], str] | None = None,
) -> WeightsReport:
    """Load the tensors of ``path`` that fit ``module``; return what happened.

    A file key is taken as the module's own key when the module has it; otherwise, when it
    belongs to ``layout``, it goes to ``prefix + rename(key)`` for every prefix in
    ``prefixes`` that the module has (e.g. ``("trunk.",)``, or both branches of VTFF).
    Raises :class:`ModelError` when nothing fits.
    """
    source = read_state_dict(path)
    own = module.state_dict()
    rename = rename or (lambda key: key)
    assigned: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    ignored: list[str] = []
    mismatched: list[str] = []
    own_hits = 0
    layout_hits = 0
    for key, value in source.items():
        if key in own:
            targets = [key]
            own_hits += 1
            layout_hits += int(layout.belongs(key))
        elif layout.belongs(key):
            layout_hits += 1
            targets = [p + rename(key) for p in prefixes if p + rename(key) in own]
            if not targets:
                ignored.append(key)
                continue
        else:
            unexpected.append(key)
            continue
        for target in targets:
            if tuple(own[target].shape) != tuple(value.shape):
                mismatched.append(f"{key} {tuple(value.shape)} -> {target} {tuple(own[target].shape)}")
            else:
                assigned[target] = value
    if not assigned:
        sample = ", ".join(list(source)[:3])
        raise ModelError(
            f"weights file {str(path)!r}: no tensor fits {type(module).__name__}; expected a {layout.name} state dict "
            f"({layout.keys}) or this embedder's own state_dict; the file has {len(source)} keys such as {sample}"
            + (f"; {len(mismatched)} had the right name but the wrong shape" if mismatched else "")
        )
    module.load_state_dict(assigned, strict=False)
    scope = [k for k in own if own_hits or any(k.startswith(p) for p in prefixes)]
    missing = tuple(k for k in scope if k not in assigned)
    untouched = sum(1 for k in own if k not in assigned and k not in missing)
    return WeightsReport(
        path=str(path),
        layout=layout.name if layout_hits else "own state_dict",
        loaded=len(assigned),
        missing=missing,
        unexpected=tuple(unexpected),
        ignored=tuple(ignored),
        mismatched=tuple(mismatched),
        untouched=untouched,
    )
