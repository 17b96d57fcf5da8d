"""Evaluation over a fixed episode set: mean accuracy, 95% confidence interval, per-class accuracy, confusion.

The interval is the field's convention, ``1.96 * std / sqrt(n)`` over episode
accuracies (ProtoNet, RelationNet, MAML, CloserLook; LibFewShot). For methods whose
head works on embeddings (:class:`~fsfer.models.methods.base.MetricMethod`), every
image is embedded once (and its episode-free query work, ``prepare_queries``, done
once) and the episodes are replayed on the cached results, so 10,000 episodes cost
about one pass over the test images plus the methods' light per-episode heads.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from fsfer.episodes.sampler import EpisodeIndex, gather
from fsfer.models.methods.base import MetricMethod


@dataclass
class EvalResult:
    """Accuracies are fractions in [0, 1]; ``confusion[t][p]`` counts queries of true class t predicted as p."""

    accuracy: float
    ci95: float
    episodes: int
    n_way: int
    k_shot: int
    q_query: int
    per_class: dict[str, float]
    classes: list[str]
    confusion: list[list[int]]
    episode_accuracies: list[float] = field(repr=False, default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON: ``confusion`` rows are true classes and columns predicted ones, both in ``classes`` order."""
        out = asdict(self)
        out.pop("episode_accuracies")
        out["confusion_rows"], out["confusion_columns"] = "true", "predicted"
        return out


def summarise_predictions(
    accuracies: Sequence[float],
    true_global: torch.Tensor,
    pred_global: torch.Tensor,
    class_names: Sequence[str],
    shape: tuple[int, int, int],
) -> EvalResult:
    """An EvalResult from per-episode accuracies and all (true, predicted) global class ids."""
    acc = np.asarray(accuracies, dtype=np.float64)
    n = len(acc)
    ci = 1.96 * float(acc.std()) / math.sqrt(n) if n else float("nan")
    used = sorted(set(true_global.tolist()) | set(pred_global.tolist()))
    pos = {c: i for i, c in enumerate(used)}
    confusion = np.zeros((len(used), len(used)), dtype=np.int64)
    np.add.at(confusion, ([pos[t] for t in true_global.tolist()], [pos[p] for p in pred_global.tolist()]), 1)
    per_class = {
        class_names[c]: float(confusion[pos[c], pos[c]] / confusion[pos[c]].sum())
        for c in used
        if confusion[pos[c]].sum() > 0
    }
    return EvalResult(
        accuracy=float(acc.mean()) if n else float("nan"),
        ci95=ci,
        episodes=n,
        n_way=shape[0],
        k_shot=shape[1],
        q_query=shape[2],
        per_class=per_class,
        classes=[class_names[c] for c in used],
        confusion=confusion.tolist(),
        episode_accuracies=acc.tolist(),
    )


def _shape(index: EpisodeIndex) -> tuple[int, int, int]:
    n_way = int(index.classes.numel())
    return n_way, int(index.support.numel()) // max(n_way, 1), int(index.query.numel()) // max(n_way, 1)


@torch.no_grad()
def embed_rows(
    embedder: torch.nn.Module,
    images: torch.Tensor,
    rows: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    batch_size: int = 256,
) -> torch.Tensor:
    """Feature maps ``[len(rows), C, h, w]`` of the store rows, embedded in batches (eval mode is the caller's)."""
    chunks = []
    for lo in range(0, rows.numel(), batch_size):
        batch = images.index_select(0, rows[lo : lo + batch_size].to(images.device)).to(device, non_blocking=True)
        chunks.append(embedder(transform(batch)).float())
    return torch.cat(chunks)


def evaluate(
    method: torch.nn.Module,
    dataset,
    episodes: Sequence[EpisodeIndex],
    *,
    transform: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device | str = "cpu",
    cached: bool = True,
    batch_size: int = 256,
    progress: bool = False,
    autocast: Callable[[], Any] | None = None,
) -> EvalResult:
    """Evaluate ``method`` on ``episodes`` (indices into ``dataset``) in eval mode; restores the mode after."""
    from tqdm.auto import tqdm

    device = torch.device(device)
    was_training = method.training
    method.eval()
    accuracies: list[float] = []
    trues, preds = [], []
    try:
        use_cache = cached and isinstance(method, MetricMethod)
        if use_cache:
            rows = torch.unique(torch.cat([torch.cat([e.support, e.query]) for e in episodes]))
            with torch.no_grad(), autocast() if autocast else nullcontext():
                feats = embed_rows(method.embedder, dataset.images, rows, transform, device, batch_size)
                prepared = feats  # most methods score the features themselves; no second copy for them
                if type(method).prepare_queries is not MetricMethod.prepare_queries:
                    prepared = torch.cat([method.prepare_queries(f) for f in feats.split(batch_size)]).float()
            where = torch.full((len(dataset),), -1, dtype=torch.long)
            where[rows] = torch.arange(rows.numel())
            where = where.to(device)
        for index in tqdm(episodes, desc="evaluating", unit="ep", disable=not progress, leave=False):
            s_labels = index.support_labels.to(device)
            if use_cache:
                with torch.no_grad():
                    s_feats = feats[where[index.support.to(device)]]
                    q_prepared = prepared[where[index.query.to(device)]]
                    summary = method.summarise(s_feats, s_labels, int(index.classes.numel()))
                    logits = method.score_prepared(summary, q_prepared)
            else:
                ep = gather(dataset.images, index, transform).to(device)
                method.adapt(ep.support_images, ep.support_labels)
                logits = method.predict(ep.query_images)
            pred = logits.argmax(dim=1).cpu()
            q_labels = index.query_labels.cpu()
            accuracies.append(float((pred == q_labels).float().mean()))
            trues.append(index.classes[q_labels])
            preds.append(index.classes[pred])
    finally:
        method.train(was_training)
    return summarise_predictions(accuracies, torch.cat(trues), torch.cat(preds), list(dataset.classes), _shape(episodes[0]))
