"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain values: ``model``, ``optimizer`` and
``scheduler`` state dicts, ``rng`` states, the ``episode`` counter, the resolved
``config``, the class names of the store, the best validation accuracy and the
normalisation, under ``format = "fsfer-checkpoint"``, and the ``kind`` of run that
wrote it (``episode-train``, the default of older files, or ``pretrain``). Either kind
holds its embedder under the ``embedder.`` keys of ``model``: :func:`embedder_state`
takes them out, and :func:`load_embedder` puts them into another model's embedder
(``episode-train --init``, or a pretrained embedder evaluated with a metric head).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fsfer.errors import ModelError

FORMAT = "fsfer-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` via a temporary file and an atomic rename.

    A kill during the write leaves the previous file intact (at worst a stray ``.tmp``).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def checkpoint_path(path: str | Path) -> Path:
    """``path`` itself, or for a run folder its ``best.pt`` (else ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise ModelError(f"{path}: a folder holding no best.pt or last.pt; pass a run folder of `fsfer episode-train` "
                         "or `fsfer pretrain`, or a checkpoint file")
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint dict (a run folder means its ``best.pt``); anything that is not an fsfer checkpoint is a
    :class:`ModelError` naming the file."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # a zip archive (torch.save) or a legacy pickle
        text = head.decode("utf-8", "replace").splitlines()[0][:60] if head else "an empty file"
        raise ModelError(f"{path}: not an fsfer checkpoint (it starts {text!r}); pass a best.pt or last.pt of "
                         "`fsfer episode-train` or `fsfer pretrain` (an episode file goes with --episodes)")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch.load raises many kinds on a file that is not a checkpoint
        raise ModelError(f"{path}: not an fsfer checkpoint (torch.load cannot read it: {type(err).__name__}); "
                         "pass a best.pt or last.pt of `fsfer episode-train` or `fsfer pretrain`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f"{path}: not an fsfer checkpoint (made by `fsfer episode-train` or `fsfer pretrain`)")
    if data.get("version", 0) > VERSION:
        raise ModelError(f"{path}: checkpoint version {data['version']} is newer than this fsfer; upgrade fsfer")
    return data


def rng_state() -> dict[str, Any]:
    """The torch RNG states (CPU and every CUDA device) for an exact resume."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_normalise(checkpoint: dict[str, Any]):
    """The :class:`~fsfer.transforms.Normalise` a checkpoint's model was trained with."""
    from fsfer.transforms import Normalise

    norm = checkpoint["normalise"]
    return Normalise(tuple(norm["mean"]), tuple(norm["std"]))


def checkpoint_kind(checkpoint: dict[str, Any]) -> str:
    """``episode-train`` or ``pretrain``: the command that wrote the checkpoint."""
    return str(checkpoint.get("kind", "episode-train"))


def embedder_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The embedder's tensors of a checkpoint's model (its ``embedder.*`` keys, prefix removed)."""
    prefix = "embedder."
    return {k[len(prefix):]: v for k, v in checkpoint["model"].items() if k.startswith(prefix)}


def check_backbone(checkpoint: dict[str, Any], backbone: str, path: str | Path, fix: str) -> None:
    """:class:`ModelError` unless the checkpoint's embedder is ``backbone`` (``fix`` says what to change)."""
    held = checkpoint.get("config", {}).get("backbone")
    if held != backbone:
        raise ModelError(f"{path}: holds a {held} embedder, not {backbone}; {fix}")


def load_embedder(embedder: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Copy a checkpoint's embedder tensors into ``embedder``.

    Every tensor of the embedder proper must be there with its shape; the state of the
    auxiliary losses (DAN's affinity centres, DACL's sparse centres: per-class, sized by
    the classes of the run that made them) is copied only where the shapes agree.
    """
    own = embedder.state_dict()
    aux = tuple(f"{name}." for name in _aux_state(embedder))
    wrong = [k for k in own if not k.startswith(aux) and (k not in state or state[k].shape != own[k].shape)]
    if wrong:
        raise ModelError(
            f"{path}: its embedder does not fit this {type(embedder).__name__} ({len(wrong)} tensor(s) missing or of "
            f"another shape, e.g. {wrong[0]}); use the backbone and backbone_options the checkpoint was made with"
        )
    embedder.load_state_dict({k: (state[k] if k in state and state[k].shape == v.shape else v) for k, v in own.items()})


def _aux_state(embedder: torch.nn.Module) -> tuple[str, ...]:
    """Submodules holding per-class state of auxiliary losses (DAN ``affinity``, DACL ``sparse_center``)."""
    return tuple(name for name in ("affinity", "sparse_center") if isinstance(getattr(embedder, name, None), torch.nn.Module))
