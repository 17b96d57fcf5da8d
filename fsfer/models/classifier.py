"""Classifier pretraining of an embedder: the embedder, a head over the base classes, and its losses.

The recipe of the "good embedding" line of few-shot work: train the backbone as an
ordinary classifier of all base classes with cross-entropy, then recognise novel
classes with a metric head on its frozen features (Chen, Liu, Kira, Wang, Huang,
"A Closer Look at Few-shot Classification", ICLR 2019; Tian, Wang, Krishnan,
Tenenbaum, Isola, "Rethinking Few-Shot Image Classification: a Good Embedding Is All
You Need?", ECCV 2020; Wang, Chao, Weinberger, van der Maaten, "SimpleShot", 2019).
The FER backbones' own auxiliary losses (DAN's affinity and partition, DACL's sparse
centre) are defined over a fixed set of classes and batches, so they join here with
the paper's weights, over the base-class ids.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.errors import ConfigError
from fsfer.models.methods.base import merge_losses


class LinearHead(nn.Module):
    """Baseline's classifier: ``[B, C]`` pooled features -> logits ``[B, n_classes]`` (one linear layer)."""

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)


class CosineHead(nn.Module):
    """Baseline++'s classifier (Chen et al. 2019): ``scale * cos(f, w_k)``, ``[B, C] -> [B, n_classes]``.

    The class weights ``w_k`` are learned; ``scale`` is learned from its initial value.
    """

    def __init__(self, in_features: int, n_classes: int, scale: float = 10.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(features, dim=1) @ F.normalize(self.weight, dim=1).T


HEADS = {"linear": LinearHead, "cosine": CosineHead}


class PretrainClassifier(nn.Module):
    """An embedder with a classifier over the base classes: ``(images [B, 3, H, W], labels [B])``
    -> ``(logits [B, n_classes], losses)``.

    The head sees the global-average-pooled maps ``[B, C]``; with ``head="linear"`` an
    embedder that has a classifier of its own in its paper (``make_classifier(n)``: DAN's
    Linear + BatchNorm1d) gets that one. ``losses`` holds
    ``cross_entropy`` (with ``label_smoothing``) and the embedder's ``aux_losses`` on the
    same batch with the base-class ids as labels (already weighted by the embedder).
    The embedder is ``.embedder``, as in the few-shot methods, so a checkpoint's
    ``embedder.*`` tensors load into any method.
    """

    def __init__(self, embedder: nn.Module, n_classes: int, head: str = "linear", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if head not in HEADS:
            raise ConfigError(f"classifier {head!r}: use one of {', '.join(HEADS)}")
        if n_classes < 2:
            raise ConfigError(f"classifier pretraining needs at least 2 base classes; got {n_classes}")
        self.embedder = embedder
        own = getattr(embedder, "make_classifier", None)
        if head == "linear" and callable(own):
            self.head = own(n_classes)  # the paper's own classifier (DAN: Linear + BatchNorm1d)
        else:
            self.head = HEADS[head](int(embedder.out_channels), n_classes)
        self.label_smoothing = float(label_smoothing)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        maps = self.embedder(images)
        logits = self.head(maps.mean(dim=(2, 3)))
        losses = {"cross_entropy": F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)}
        aux = getattr(self.embedder, "aux_losses", None)
        if callable(aux):
            losses = merge_losses(losses, dict(aux(maps, labels)))
        return logits, losses
