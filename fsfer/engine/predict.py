"""Prediction for new classes: a trained model, a few labelled faces per new class, and query images."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from fsfer.datasets.base import IMAGE_EXTENSIONS, make_records
from fsfer.engine.checkpoint import checkpoint_kind, embedder_state, load_checkpoint, load_embedder
from fsfer.engine.config import config_from_dict
from fsfer.errors import DataError
from fsfer.models.registry import build_embedder
from fsfer.store import load_dataset
from fsfer.transforms import Normalise


@dataclass
class Prediction:
    """One query's predicted class, its score, and the score of every class."""

    path: str
    label: str
    score: float
    scores: dict[str, float]


def load_model(
    checkpoint_path: str | Path, device: torch.device | str = "cpu", method: str | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A checkpoint's few-shot method (eval mode) and the checkpoint dict.

    An ``episode-train`` checkpoint gives its trained method whole. ``method`` (a method
    name) puts the checkpoint's embedder under another head instead: for a ``pretrain``
    checkpoint that is how it is used (default: the head it was validated with;
    SimpleShot gets the base-class mean feature the run kept), and any method may be
    named, though a head with weights of its own (crn, relation, matching, maml) starts
    them untrained.
    """
    from fsfer.engine.build import build_head, build_model

    ckpt = load_checkpoint(checkpoint_path)
    cfg = config_from_dict(ckpt["config"], str(checkpoint_path))
    cfg = dataclasses.replace(cfg, weights="", init="")
    pretrained = checkpoint_kind(ckpt) == "pretrain"
    if not pretrained and method in (None, cfg.method):
        model = build_model(cfg)
        model.load_state_dict(ckpt["model"])
        return model.to(device).eval(), ckpt
    embedder = build_embedder(cfg.backbone, **cfg.backbone_options)
    load_embedder(embedder, embedder_state(ckpt), checkpoint_path)
    model = build_head(cfg, method or cfg.method, embedder, pretrained=pretrained)
    if hasattr(model, "set_base_mean") and "feature_mean" in ckpt:
        model.set_base_mean(ckpt["feature_mean"])
    return model.to(device).eval(), ckpt


def _read_images(paths: Sequence[Path], labels: Sequence[str], size: int) -> torch.Tensor:
    rows = [{"item": str(p), "path": str(p), "label": y, "split": "test"} for p, y in zip(paths, labels)]
    store = load_dataset(make_records(rows, source="folder", root=""), size, cache=False, strict=True)
    return store.images


def support_from_folder(folder: str | Path) -> tuple[list[Path], list[str]]:
    """``DIR/<class>/<image>`` -> image paths and class names (class folders in name order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such support folder; expected one sub-folder of images per new class")
    paths, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise DataError(f"{sub}: class folder holds no image; put a few face images of that class in it")
        paths += images
        labels += [sub.name] * len(images)
    if len(set(labels)) < 2:
        raise DataError(f"{folder}: needs at least two class folders of images (found {len(set(labels))})")
    return paths, labels


def predict(
    checkpoint_path: str | Path, support_dir: str | Path, queries: Sequence[str | Path], device: str | torch.device = "cpu",
    method: str | None = None,
) -> list[Prediction]:
    """Classify ``queries`` among the classes of ``support_dir`` with the checkpoint's model
    (``method``: another head on its embedder, see :func:`load_model`)."""
    model, ckpt = load_model(checkpoint_path, device, method)
    size = int(ckpt["image_size"])
    normalise = Normalise(tuple(ckpt["normalise"]["mean"]), tuple(ckpt["normalise"]["std"]))
    paths, labels = support_from_folder(support_dir)
    classes = list(dict.fromkeys(labels))
    query_paths = [Path(q) for q in queries]
    for q in query_paths:
        if not q.is_file():
            raise DataError(f"{q}: no such query image")
    support = normalise(_read_images(paths, labels, size)).to(device)
    support_labels = torch.tensor([classes.index(y) for y in labels], device=device)
    query = normalise(_read_images(query_paths, [classes[0]] * len(query_paths), size)).to(device)
    model.adapt(support, support_labels)
    with torch.no_grad():
        logits = model.predict(query).float().cpu()
    scores = logits if getattr(model, "logits_are_scores", False) else logits.softmax(dim=1)
    out = []
    for path, row in zip(query_paths, scores):
        best = int(row.argmax())
        out.append(Prediction(str(path), classes[best], float(row[best]), {c: float(v) for c, v in zip(classes, row)}))
    return out
