"""The shared base of the few-shot methods, and the helpers they have in common.

A method is an ``nn.Module`` holding its embedder as ``.embedder``:

- ``method(episode) -> (logits [n_query, n_way], losses)``: the training (and evaluation)
  step. ``losses`` holds exactly the terms to be summed, already weighted, under
  descriptive keys (``relation``, ``js_distance``, ...), plus the embedder's
  ``aux_losses`` when it has them.
- ``method.adapt(support_images, support_labels)`` then ``method.predict(query_images)``:
  inference on new classes from a few labelled faces, without gradients (MAML's inner
  loop excepted). The module's train/eval mode is the caller's business: call
  ``method.eval()`` first, as with any ``nn.Module``.

Images are float tensors, already normalised.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fsfer.episodes.episode import Episode
from fsfer.errors import EpisodeError, ModelError


def check_images(images: torch.Tensor, what: str) -> None:
    """Raise :class:`EpisodeError` unless ``images`` is a float ``[B, C, H, W]`` tensor."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise EpisodeError(f"{what} must be a [B, C, H, W] tensor; got {shape}")
    if not images.is_floating_point():
        raise EpisodeError(
            f"{what} are {images.dtype}; methods take float images, already normalised "
            "(e.g. episode.map_images(normalise))"
        )


def check_episode(episode: Episode) -> Episode:
    """Validate an episode for a method: :meth:`Episode.validate` plus float ``[B, C, H, W]`` images."""
    if not isinstance(episode, Episode):
        raise EpisodeError(f"a method takes an fsfer Episode; got {type(episode).__name__}")
    episode.validate()
    check_images(episode.support_images, "support images")
    check_images(episode.query_images, "query images")
    return episode


def check_support(support_images: torch.Tensor, support_labels: torch.Tensor) -> int:
    """Validate a labelled support set for ``adapt``; return ``n_way`` (``max label + 1``).

    Labels must lie in ``0..n_way-1`` with at least one image per way (via :meth:`Episode.validate`).
    """
    if not isinstance(support_labels, torch.Tensor) or support_labels.dim() != 1:
        raise EpisodeError("support labels must be a 1-D tensor of ints in 0..n_way-1")
    if support_labels.is_floating_point() or support_labels.dtype == torch.bool:
        raise EpisodeError(f"support labels must be integers; got {support_labels.dtype}")
    if support_labels.numel() == 0:
        raise EpisodeError("support set is empty; every way needs at least one shot")
    support_labels = support_labels.long()
    n_way = int(support_labels.max()) + 1
    check_images(support_images, "support images")
    Episode(
        support_images=support_images,
        support_labels=support_labels,
        query_images=support_images[:0],
        query_labels=support_labels[:0],
        classes=torch.arange(n_way, device=support_labels.device),
    ).validate()
    return n_way


def class_sums(features: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Per-class sums: ``[N, *F]`` features, ``[N]`` labels in ``0..n_way-1`` -> ``[n_way, *F]``."""
    out = features.new_zeros((n_way, *features.shape[1:]))
    return out.index_add(0, labels, features)


def class_means(features: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Per-class means: ``[N, *F]``, ``[N]`` -> ``[n_way, *F]`` (unbalanced supports allowed)."""
    counts = torch.bincount(labels, minlength=n_way).to(features.dtype)
    return class_sums(features, labels, n_way) / counts.view(-1, *([1] * (features.dim() - 1)))


def as_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """``84 -> (84, 84)``; ``(H, W)`` unchanged."""
    if isinstance(image_size, int):
        return (image_size, image_size)
    height, width = image_size
    return (int(height), int(width))


def feature_shape(embedder: nn.Module, image_size: int | tuple[int, int]) -> tuple[int, int, int]:
    """``(C, h, w)`` of the embedder's maps for ``[in_channels, H, W]`` images (one dry run, eval mode, no grad).

    ``in_channels`` is the embedder's attribute of that name when it has one, else 3.
    """
    height, width = as_size(image_size)
    in_channels = int(getattr(embedder, "in_channels", 3))
    try:
        reference = next(iter(embedder.parameters()))
        device, dtype = reference.device, reference.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    was_training = embedder.training
    embedder.eval()
    try:
        with torch.no_grad():
            maps = embedder(torch.zeros(2, in_channels, height, width, device=device, dtype=dtype))
    except RuntimeError as err:
        raise ModelError(f"the embedder cannot take {height}x{width} images ({err}); use a larger image_size") from err
    finally:
        embedder.train(was_training)
    if maps.dim() != 4:
        raise ModelError(f"an embedder must return [B, C, h, w] maps; got shape {tuple(maps.shape)}")
    return int(maps.shape[1]), int(maps.shape[2]), int(maps.shape[3])


def merge_losses(losses: dict[str, torch.Tensor], extra: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``losses`` with the entries of ``extra`` added; a key in both is refused (:class:`ModelError`)."""
    clash = sorted(set(losses) & set(extra))
    if clash:
        raise ModelError(f"the embedder's aux_losses reuse the method's loss names {clash}; rename them")
    return {**losses, **extra}


class Method(nn.Module):
    """Base class of the few-shot methods (see the module docstring for the contract).

    Subclasses implement :meth:`episode_forward`, :meth:`adapt` and :meth:`predict`;
    :meth:`forward` validates the episode first.
    """

    def __init__(self, embedder: nn.Module) -> None:
        super().__init__()
        if not hasattr(embedder, "out_channels"):
            raise ModelError(f"embedder {type(embedder).__name__} has no out_channels attribute")
        self.embedder = embedder

    def forward(self, episode: Episode) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``episode -> (logits [n_query, n_way], losses)``; raises :class:`EpisodeError` on a bad episode."""
        return self.episode_forward(check_episode(episode))

    def episode_forward(self, episode: Episode) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The method proper, on a validated episode."""
        raise NotImplementedError

    def adapt(self, support_images: torch.Tensor, support_labels: torch.Tensor) -> None:
        """Take in a labelled support set ``[n_support, C, H, W]``, ``[n_support]`` (labels 0..n_way-1)."""
        raise NotImplementedError

    def predict(self, query_images: torch.Tensor) -> torch.Tensor:
        """Logits ``[n_query, n_way]`` of ``[n_query, C, H, W]`` images against the adapted support."""
        raise NotImplementedError

    def embedder_aux_losses(self, features: torch.Tensor, global_labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The embedder's ``aux_losses(features, global_labels)`` when it has them, else ``{}``."""
        aux = getattr(self.embedder, "aux_losses", None)
        return dict(aux(features, global_labels)) if callable(aux) else {}


class MetricMethod(Method):
    """A method that embeds support and query once and scores queries against a support summary.

    Subclasses implement :meth:`summarise` (support features -> whatever the scores
    need: prototypes, class maps, ...), :meth:`score` and :meth:`episode_losses`.
    Support and query are embedded in separate batches, as in the papers.
    """

    def __init__(self, embedder: nn.Module) -> None:
        super().__init__(embedder)
        self._adapted: Any = None

    def summarise(self, support_features: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> Any:
        """Support maps ``[n_support, C, h, w]`` and labels -> the support summary."""
        raise NotImplementedError

    def score(self, summary: Any, query_features: torch.Tensor) -> torch.Tensor:
        """The support summary and query maps ``[n_query, C, h, w]`` -> logits ``[n_query, n_way]``."""
        raise NotImplementedError

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: Any, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The method's own (weighted) losses."""
        raise NotImplementedError

    def compose(self, summary: Any, weights: torch.Tensor) -> Any:
        """The summary of classes made from the summarised ones: ``weights`` ``[n_new, n_way]`` mixes them.

        Default: a summary that is one tensor ``[n_way, ...]`` per class (prototypes, class
        maps) is mixed linearly. Methods with other summaries override it.
        """
        if not isinstance(summary, torch.Tensor):
            raise NotImplementedError(f"{type(self).__name__} cannot compose its summary")
        return (weights.to(summary.dtype) @ summary.flatten(1)).view(weights.shape[0], *summary.shape[1:])

    def prepare_queries(self, query_features: torch.Tensor) -> torch.Tensor:
        """Per-image work of :meth:`score` that does not depend on the episode (cached by evaluation).

        Default: the features themselves. ``score_prepared(summary, prepare_queries(q))``
        must equal ``score(summary, q)``.
        """
        return query_features

    def score_prepared(self, summary: Any, prepared_queries: torch.Tensor) -> torch.Tensor:
        """:meth:`score` on queries already passed through :meth:`prepare_queries`."""
        return self.score(summary, prepared_queries)

    def episode_forward(self, episode: Episode) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        support_features = self.embedder(episode.support_images)
        query_features = self.embedder(episode.query_images)
        summary = self.summarise(support_features, episode.support_labels, episode.n_way)
        logits = self.score(summary, query_features)
        losses = self.episode_losses(logits, episode.query_labels, summary, query_features)
        aux = self.embedder_aux_losses(
            torch.cat([support_features, query_features]),
            torch.cat([episode.support_global, episode.query_global]),
        )
        return logits, merge_losses(losses, aux)

    def adapt(self, support_images: torch.Tensor, support_labels: torch.Tensor) -> None:
        n_way = check_support(support_images, support_labels)
        with torch.no_grad():
            self._adapted = self.summarise(self.embedder(support_images), support_labels.long(), n_way)

    def predict(self, query_images: torch.Tensor) -> torch.Tensor:
        if self._adapted is None:
            raise ModelError(f"{type(self).__name__}.predict() needs adapt(support_images, support_labels) first")
        check_images(query_images, "query images")
        with torch.no_grad():
            return self.score(self._adapted, self.embedder(query_images))
