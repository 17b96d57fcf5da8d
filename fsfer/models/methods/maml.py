"""MAML and ANIL through ``learn2learn.algorithms.MAML``.

MAML: Finn, Abbeel, Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
Networks", ICML 2017 - the whole network (embedder + linear head) takes ``inner_steps``
SGD steps on the support cross-entropy; the query cross-entropy of the adapted network is
the outer loss. ANIL: Raghu, Raghu, Bengio, Vinyals, "Rapid Learning or Feature Reuse?",
ICLR 2020 - only the head adapts; the features are computed once.

BatchNorm (learn2learn's clones share the BN running buffers with the original, so an
inner loop in train mode would update them from every clone): MAML runs its network with
*transductive batch norm*, as Finn et al.'s code does - every BN layer normalises with the
statistics of the batch at hand (support batch in the inner loop, query batch after) in
train and eval mode alike, and the running buffers are never read nor written
(:func:`transductive_batch_norm`). ANIL never clones the embedder, so its BN behaves as
in the metric methods (running stats updated by the meta-training forward in train mode,
used in eval mode).

The head has ``n_way`` outputs; an episode with fewer ways uses the first ones (train
4-way, test 3-way), one with more is refused.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.episodes.episode import Episode
from fsfer.errors import EpisodeError, ModelError
from fsfer.models.methods.base import Method, check_images, check_support, merge_losses


def learn2learn_maml() -> type:
    """``learn2learn.algorithms.MAML``, imported quietly the first time (learn2learn imports gym, which warns and prints)."""
    module = sys.modules.get("learn2learn.algorithms")
    if module is None:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import learn2learn.algorithms as module
    return module.MAML


def detach_clone(module: nn.Module) -> None:
    """Cut an adapted learn2learn clone from the graph of the original parameters (in place)."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None:
                sub._parameters[name] = param.detach()


@contextlib.contextmanager
def transductive_batch_norm(module: nn.Module) -> Iterator[None]:
    """Within the block, every BatchNorm layer of ``module`` uses batch statistics and leaves its running buffers alone.

    It sets ``training=True`` and ``track_running_stats=False`` on the BN layers (learn2learn
    clones made inside the block copy these flags) and restores both afterwards.
    """
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.training, m.track_running_stats) for m in layers]
    try:
        for m in layers:
            m.training = True
            m.track_running_stats = False
        yield
    finally:
        for m, (training, track) in zip(layers, saved):
            m.training = training
            m.track_running_stats = track


class PooledLinearHead(nn.Module):
    """Global average pool + linear: ``[B, C, h, w] -> [B, n_way]``."""

    def __init__(self, in_channels: int, n_way: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, n_way)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.linear(maps.mean(dim=(2, 3)))


class _GradientBasedMethod(Method):
    """Shared options and checks of MAML and ANIL."""

    def __init__(
        self,
        embedder: nn.Module,
        n_way: int = 5,
        inner_steps: int = 5,
        inner_lr: float = 0.01,
        first_order: bool = False,
        test_inner_steps: int | None = None,
    ) -> None:
        super().__init__(embedder)
        if n_way < 1 or inner_steps < 0 or (test_inner_steps is not None and test_inner_steps < 0):
            raise ModelError("maml/anil: n_way must be >= 1 and the inner steps >= 0")
        self.n_way = n_way
        self.inner_steps = inner_steps
        self.inner_lr = float(inner_lr)
        self.first_order = first_order
        self.test_inner_steps = test_inner_steps
        self.head = PooledLinearHead(int(embedder.out_channels), n_way)
        self._adapted: tuple[nn.Module, int] | None = None  # (adapted clone, n_way); a tuple, so not a submodule

    def steps(self) -> int:
        """Inner steps: ``inner_steps`` in train mode, ``test_inner_steps`` (if set) in eval mode."""
        if not self.training and self.test_inner_steps is not None:
            return self.test_inner_steps
        return self.inner_steps

    def check_ways(self, n_way: int) -> None:
        if n_way > self.n_way:
            raise EpisodeError(
                f"{type(self).__name__} was built with a {self.n_way}-way head; got a {n_way}-way episode "
                f"(build it with n_way={n_way})"
            )

    def inner_loop(self, learner: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, n_way: int) -> nn.Module:
        """Adapt a learn2learn clone on ``(inputs, labels)``; returns the adapted clone."""
        if torch.is_inference_mode_enabled():
            raise ModelError(f"{type(self).__name__} adapts by gradient steps: do not call it under torch.inference_mode()")
        # no meta-gradient is needed in eval mode or without autograd: skip the second-order graph
        first_order = self.first_order or not self.training or not torch.is_grad_enabled()
        with torch.enable_grad():
            clone = learner.clone(first_order=first_order)
            for _ in range(self.steps()):
                clone.adapt(F.cross_entropy(clone(inputs)[:, :n_way], labels), first_order=first_order)
        return clone

    def make_learner(self, module: nn.Module) -> nn.Module:
        # allow_nograd: frozen parameters (requires_grad=False) simply do not adapt
        return learn2learn_maml()(module, lr=self.inner_lr, first_order=self.first_order, allow_nograd=True)


class MAML(_GradientBasedMethod):
    """MAML over embedder + :class:`PooledLinearHead`; logits ``[n_query, n_way]``; losses: ``cross_entropy``.

    Options: ``n_way`` (head outputs), ``inner_steps``, ``inner_lr``, ``first_order``
    (FOMAML), ``test_inner_steps`` (eval mode; default ``inner_steps``).
    """

    def network(self) -> nn.Sequential:
        return nn.Sequential(self.embedder, self.head)

    def episode_forward(self, episode: Episode) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        n_way = episode.n_way
        self.check_ways(n_way)
        with transductive_batch_norm(self.embedder):
            clone = self.inner_loop(
                self.make_learner(self.network()), episode.support_images, episode.support_labels, n_way
            )
            embedder, head = clone.module[0], clone.module[1]
            query_features = embedder(episode.query_images)
            logits = head(query_features)[:, :n_way]
            aux = {}
            if callable(getattr(embedder, "aux_losses", None)):
                aux = dict(embedder.aux_losses(query_features, episode.query_global))
        return logits, merge_losses({"cross_entropy": F.cross_entropy(logits, episode.query_labels)}, aux)

    def adapt(self, support_images: torch.Tensor, support_labels: torch.Tensor) -> None:
        n_way = check_support(support_images, support_labels)
        self.check_ways(n_way)
        with torch.no_grad(), transductive_batch_norm(self.embedder):
            clone = self.inner_loop(self.make_learner(self.network()), support_images, support_labels.long(), n_way)
        detach_clone(clone)
        self._adapted = (clone, n_way)

    def predict(self, query_images: torch.Tensor) -> torch.Tensor:
        if self._adapted is None:
            raise ModelError("MAML.predict() needs adapt(support_images, support_labels) first")
        check_images(query_images, "query images")
        clone, n_way = self._adapted
        with torch.no_grad(), transductive_batch_norm(clone):
            return clone(query_images)[:, :n_way]


class ANIL(_GradientBasedMethod):
    """ANIL: only :class:`PooledLinearHead` adapts; logits ``[n_query, n_way]``; losses: ``cross_entropy``.

    Same options as :class:`MAML`.
    """

    def episode_forward(self, episode: Episode) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        n_way = episode.n_way
        self.check_ways(n_way)
        support_features = self.embedder(episode.support_images)
        query_features = self.embedder(episode.query_images)
        clone = self.inner_loop(self.make_learner(self.head), support_features, episode.support_labels, n_way)
        logits = clone(query_features)[:, :n_way]
        aux = self.embedder_aux_losses(
            torch.cat([support_features, query_features]),
            torch.cat([episode.support_global, episode.query_global]),
        )
        return logits, merge_losses({"cross_entropy": F.cross_entropy(logits, episode.query_labels)}, aux)

    def adapt(self, support_images: torch.Tensor, support_labels: torch.Tensor) -> None:
        n_way = check_support(support_images, support_labels)
        self.check_ways(n_way)
        with torch.no_grad():
            support_features = self.embedder(support_images)
            clone = self.inner_loop(self.make_learner(self.head), support_features, support_labels.long(), n_way)
        detach_clone(clone)
        self._adapted = (clone, n_way)

    def predict(self, query_images: torch.Tensor) -> torch.Tensor:
        if self._adapted is None:
            raise ModelError("ANIL.predict() needs adapt(support_images, support_labels) first")
        check_images(query_images, "query images")
        clone, n_way = self._adapted
        with torch.no_grad():
            return clone(self.embedder(query_images))[:, :n_way]


METHODS = {"maml": MAML, "anil": ANIL}
