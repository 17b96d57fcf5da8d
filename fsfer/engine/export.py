"""``fsfer export``: a checkpoint and a support folder -> one TorchScript file that only needs torch to load.

The file holds the embedder, the method's head and what the head kept of the support
(prototypes, class maps, an adapted MAML clone), traced for the given classes, inside a
scripted wrapper that normalises its input. ``torch.jit.load(FILE)`` gives a module with
``class_names`` (list of str), ``image_size`` (int), ``mean`` and ``std`` (lists of float)
and ``forward(images [B, 3, S, S] uint8, or float in [0, 1]) -> scores [B, n_classes]``:
the same scores as ``fsfer predict`` (softmax probabilities; relation scores for crn and
relation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
import torch
from torch import nn

from fsfer.engine.checkpoint import checkpoint_normalise
from fsfer.engine.predict import as_scores, detector, load_model, read_support
from fsfer.errors import ModelError
from fsfer.transforms import Normalise


class _Scores(nn.Module):
    """A method adapted to a support set: normalised images ``[B, 3, S, S]`` -> scores ``[B, n_classes]``
    (those of ``fsfer predict``)."""

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return as_scores(self.method, self.method.predict(images).float())


class ExportedModel(nn.Module):
    """The scripted wrapper: preprocessing, then the traced scorer; class names and preprocessing as attributes
    (TorchScript infers ``class_names: List[str]``, ``image_size: int``, ``mean``/``std: List[float]``)."""

    def __init__(self, scorer: torch.jit.ScriptModule, class_names: list[str], image_size: int, normalise: Normalise) -> None:
        super().__init__()
        self.scorer = scorer
        self.class_names = list(class_names)
        self.image_size = int(image_size)
        self.mean = [float(m) for m in normalise.mean]
        self.std = [float(s) for s in normalise.std]
        self.register_buffer("mean_", torch.tensor(self.mean).view(1, -1, 1, 1))
        self.register_buffer("std_", torch.tensor(self.std).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if images.dtype == torch.uint8:
            x = x / 255.0
        return self.scorer((x - self.mean_) / self.std_)


@dataclass
class Export:
    """What :func:`export_model` wrote."""

    path: Path
    class_names: list[str]
    image_size: int
    method: str


def export_model(checkpoint: str | Path, support_dir: str | Path, out: str | Path, method: str | None = None,
                 detect: str | None = None) -> Export:
    """Write the TorchScript file ``out`` for the classes of ``support_dir`` (see the module docstring).

    The trace is checked on batches of 1 and 3 images against the method itself; a method
    whose scores depend on the batch in a way a trace cannot hold is a ModelError.
    """
    model, ckpt = load_model(checkpoint, "cpu", method)
    size = int(ckpt["image_size"])
    normalise = checkpoint_normalise(ckpt)
    support = read_support(support_dir, size, normalise, "cpu", detector(detect))
    model.adapt(support.images, support.labels)
    model.requires_grad_(False)
    scorer = _Scores(model).eval()
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(2, 3, size, size, generator=generator)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.14 marks TorchScript deprecated; it is still what torch.jit.load reads, with torch alone
        warnings.filterwarnings("ignore", message=r".*torch\.jit\..* is deprecated")
        # the tracer's warnings about Python values: the trace is checked against the method below instead
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        traced = torch.jit.trace(scorer, example, check_trace=False)
        for n in (1, 3):
            probe = torch.randn(n, 3, size, size, generator=generator)
            if not torch.allclose(traced(probe), scorer(probe), atol=1e-5, rtol=1e-4):
                raise ModelError(f"{checkpoint}: the {type(model).__name__} head does not trace to a batch-independent "
                                 "module; export a metric head instead (--method protonet, cosine or simpleshot)")
        module = torch.jit.script(ExportedModel(traced, support.classes, size, normalise))
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        torch.jit.save(module, str(tmp))
        tmp.replace(out)
    return Export(out, support.classes, size, type(model).__name__)
