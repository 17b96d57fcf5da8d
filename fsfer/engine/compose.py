"""Zero-shot compound episodes: each episode's compound classes composed from basic-emotion images only.

Every episode keeps its query (compound images); its support is replaced by ``k_shot``
images of each basic component of its classes, drawn (seeded per episode and class)
from ``basic_rows`` (the protocol's base rows: other people than the test subjects),
summarised by the method and composed per compound
(:mod:`fsfer.models.methods.compose`). Images are embedded once, as in
:func:`fsfer.engine.evaluate.evaluate`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from fsfer.engine.evaluate import EvalResult, embed_rows, summarise_predictions
from fsfer.episodes.sampler import EpisodeIndex
from fsfer.errors import EpisodeError
from fsfer.models.methods.base import MetricMethod
from fsfer.models.methods.compose import check_composable, components, composition_weights


@torch.no_grad()
def evaluate_composed(
    method: MetricMethod,
    dataset,
    episodes: Sequence[EpisodeIndex],
    basic_rows: np.ndarray,
    *,
    transform: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device | str = "cpu",
    weighting: str = "mean",
    seed: int = 0,
) -> EvalResult:
    """Accuracy of the episodes' queries against compounds composed from ``k_shot`` basic images per component."""
    check_composable(method)
    device = torch.device(device)
    names = list(dataset.classes)
    labels = torch.as_tensor(dataset.labels).cpu().numpy()
    basic_rows = np.asarray(basic_rows)
    plans = []
    for e, index in enumerate(episodes):
        compounds = [names[int(c)] for c in index.classes]
        basics = list(dict.fromkeys(b for pair in components(compounds) for b in pair))
        k = max(1, int(index.support.numel()) // max(1, int(index.classes.numel())))
        support, support_labels = [], []
        for b_i, basic in enumerate(basics):
            pool = basic_rows[labels[basic_rows] == names.index(basic)] if basic in names else basic_rows[:0]
            if len(pool) == 0:
                raise EpisodeError(f"--compose: no image of {basic} among the basic rows; the data must hold the "
                                   "basic classes the compounds are made of")
            rng = np.random.default_rng([seed, e, names.index(basic)])
            picked = rng.choice(pool, size=min(k, len(pool)), replace=False)
            support += picked.tolist()
            support_labels += [b_i] * len(picked)
        plans.append((basics, compounds, support, support_labels, k))
    was = method.training
    method.eval()
    try:
        rows = torch.unique(torch.cat([torch.as_tensor([r for p in plans for r in p[2]])] +
                                      [index.query.cpu() for index in episodes]))
        feats = embed_rows(method.embedder, dataset.images, rows, transform, device)
        prepared = torch.cat([method.prepare_queries(f) for f in feats.split(256)]).float()
        where = torch.full((len(dataset),), -1, dtype=torch.long)
        where[rows] = torch.arange(rows.numel())
        accuracies, trues, preds = [], [], []
        for index, (basics, compounds, support, support_labels, k) in zip(episodes, plans):
            summary = method.summarise(feats[where[torch.as_tensor(support)]],
                                       torch.as_tensor(support_labels, device=device), len(basics))
            composed = method.compose(summary, composition_weights(compounds, basics, weighting).to(device))
            logits = method.score_prepared(composed, prepared[where[index.query.cpu()]])
            pred = logits.argmax(dim=1).cpu()
            q_labels = index.query_labels.cpu()
            accuracies.append(float((pred == q_labels).float().mean()))
            trues.append(index.classes[q_labels].cpu())
            preds.append(index.classes[pred].cpu())
    finally:
        method.train(was)
    n_way = int(episodes[0].classes.numel())
    shape = (n_way, plans[0][4], int(episodes[0].query.numel()) // max(1, n_way))
    return summarise_predictions(accuracies, torch.cat(trues), torch.cat(preds), names, shape)
