"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain values: ``model``, ``optimizer`` and
``scheduler`` state dicts, ``rng`` states, the ``episode`` counter, the resolved
``config``, the class names of the store, the best validation accuracy and the
normalisation, under ``format = "fsfer-checkpoint"``.
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


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint dict; anything that is not an fsfer checkpoint is a :class:`ModelError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch.load raises many kinds on a file that is not a checkpoint
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"{path}: not an fsfer checkpoint ({first[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f"{path}: not an fsfer checkpoint (made by `fsfer episode-train`)")
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
