"""Prediction for new classes: a trained model, a few labelled faces per new class, and query images."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from fsfer.datasets.base import IMAGE_EXTENSIONS, make_records
from fsfer.engine.checkpoint import checkpoint_kind, checkpoint_normalise, embedder_state, load_checkpoint, load_embedder
from fsfer.engine.config import RunConfig, config_from_dict
from fsfer.errors import DataError, FsferWarning
from fsfer.store import load_dataset
from fsfer.transforms import Normalise


@dataclass
class Prediction:
    """One query's predicted class, its score, and the score of every class."""

    path: str
    label: str
    score: float
    scores: dict[str, float]
    #: with face detection: the face's box (x0, y0, x1, y1) in the photo and its index there (largest first)
    box: list[float] | None = None
    face: int | None = None


def saved_config(ckpt: dict[str, Any], path: str | Path) -> RunConfig:
    """The config a checkpoint was trained with, to rebuild its model (no ``weights`` or ``init`` file to read)."""
    return dataclasses.replace(config_from_dict(ckpt["config"], str(path)), weights="", init="")


def checkpoint_embedder(ckpt: dict[str, Any], path: str | Path) -> torch.nn.Module:
    """A checkpoint's embedder, rebuilt from its config and loaded with its tensors (train mode, on the CPU)."""
    from fsfer.engine.build import build_backbone

    embedder = build_backbone(saved_config(ckpt, path))
    load_embedder(embedder, embedder_state(ckpt), path)
    return embedder


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
    cfg = saved_config(ckpt, checkpoint_path)
    pretrained = checkpoint_kind(ckpt) == "pretrain"
    if not pretrained and method in (None, cfg.method):
        model = build_model(cfg)
        model.load_state_dict(ckpt["model"])
        return model.to(device).eval(), ckpt
    embedder = checkpoint_embedder(ckpt, checkpoint_path)
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


def detector(detect: str | None, min_size: int = 40):
    """The face detector ``detect`` names (``haar`` or a YuNet ``.onnx`` file), or None for images that are faces already."""
    if detect is None:
        return None
    from fsfer.faces import make_detector

    return make_detector(detect, min_size=min_size)


def face_crops(paths: Sequence[Path], size: int, find, every_face: bool):
    """Detect (with the detector ``find``) and align faces in photos:
    ``(images uint8 [N, 3, size, size], [(photo index, face index, box)])``.

    ``every_face=False`` keeps the largest face of each photo and makes a photo without one
    a DataError; with ``every_face`` such photos give nothing (the caller warns).
    """
    from fsfer.faces import align_face
    from fsfer.faces.extract import read_photo

    crops, where = [], []
    for i, path in enumerate(paths):
        rgb = read_photo(path)
        faces = find(rgb)
        if not faces and not every_face:
            raise DataError(f"{path}: no face found; use a clearer photo of the face, a smaller --min-size, "
                            "or --detect FILE.onnx (YuNet)")
        for k, face in enumerate(faces if every_face else faces[:1]):
            crops.append(align_face(rgb, face, size).image)
            where.append((i, k, [round(v, 1) for v in face.box]))
    images = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous() if crops else torch.empty(0, 3, size, size, dtype=torch.uint8)
    return images, where


def as_scores(model: torch.nn.Module, logits: torch.Tensor) -> torch.Tensor:
    """What ``predict`` reports: softmax probabilities, or the logits of methods whose logits are scores
    (crn and relation: relation scores)."""
    return logits if getattr(model, "logits_are_scores", False) else logits.softmax(dim=1)


@dataclass
class SupportSet:
    """A support folder read for a checkpoint: normalised images on the device, their labels, the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]


def read_support(support_dir: str | Path, size: int, normalise: Normalise, device, find=None) -> SupportSet:
    """The support folder's images (faces found and aligned when ``find`` is a face detector)."""
    paths, labels = support_from_folder(support_dir)
    classes = list(dict.fromkeys(labels))
    images = face_crops(paths, size, find, every_face=False)[0] if find else _read_images(paths, labels, size)
    return SupportSet(normalise(images).to(device), torch.tensor([classes.index(y) for y in labels], device=device), classes)


def predict(
    checkpoint_path: str | Path, support_dir: str | Path, queries: Sequence[str | Path], device: str | torch.device = "cpu",
    method: str | None = None, detect: str | None = None, min_size: int = 40,
) -> list[Prediction]:
    """Classify ``queries`` among the classes of ``support_dir`` with the checkpoint's model
    (``method``: another head on its embedder, see :func:`load_model`).

    ``detect`` (``haar`` or a YuNet ``.onnx`` file): support and query images are raw
    photos whose faces are found and eye-aligned first (the largest face of each support
    photo; every face of a query photo, each its own prediction with its ``box``); a query
    photo without a face gives no prediction and a warning.
    """
    model, ckpt = load_model(checkpoint_path, device, method)
    size = int(ckpt["image_size"])
    normalise = checkpoint_normalise(ckpt)
    query_paths = [Path(q) for q in queries]
    for q in query_paths:
        if not q.is_file():
            raise DataError(f"{q}: no such query image")
    find = detector(detect, min_size)
    support = read_support(support_dir, size, normalise, device, find)
    classes = support.classes
    if find:
        raw, where = face_crops(query_paths, size, find, every_face=True)
        found = {i for i, _, _ in where}
        missing = [str(p) for i, p in enumerate(query_paths) if i not in found]
        if missing:
            warnings.warn(f"no face found in {len(missing)} query photo(s): {', '.join(missing[:5])}", FsferWarning,
                          stacklevel=2)
    else:
        raw = _read_images(query_paths, [classes[0]] * len(query_paths), size)
        where = [(i, None, None) for i in range(len(query_paths))]
    model.adapt(support.images, support.labels)
    out: list[Prediction] = []
    if raw.shape[0] == 0:
        return out
    with torch.no_grad():
        scores = as_scores(model, model.predict(normalise(raw).to(device)).float()).cpu()
    for (i, k, box), row in zip(where, scores):
        best = int(row.argmax())
        out.append(Prediction(str(query_paths[i]), classes[best], float(row[best]), {c: float(v) for c, v in zip(classes, row)},
                              box=box, face=k))
    return out
