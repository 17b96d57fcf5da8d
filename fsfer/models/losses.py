"""Losses of the few-shot methods, as plain functions of tensors.

- :func:`js_divergence` - Jensen-Shannon divergence of two distributions, in ``[0, ln 2]``.
- :func:`map_distribution` - a feature map turned into a distribution (softmax over the flattened map).
- :func:`js_distance_loss` - CRN's distance loss (Zhu et al., ESWA 189, 2022), fsfer's reading.
- :func:`relation_mse_loss` - RelationNet's MSE against one-hot match labels (Sung et al., CVPR 2018).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LN2 = math.log(2.0)


def js_divergence(p: torch.Tensor, q: torch.Tensor, dim: int = -1, normalized: bool = False) -> torch.Tensor:
    """Jensen-Shannon divergence ``0.5 KL(p || m) + 0.5 KL(q || m)``, ``m = (p + q) / 2``, natural log.

    ``p`` and ``q`` hold probabilities along ``dim`` (they broadcast against each other);
    the result drops ``dim``. It is symmetric, 0 for equal and ``ln 2`` for disjoint
    distributions; ``normalized=True`` divides by ``ln 2`` so that it lies in ``[0, 1]``.
    Zero probabilities are fine (``0 log 0 = 0``) and keep finite gradients.
    """
    tiny = torch.finfo(p.dtype).tiny
    m = 0.5 * (p + q)
    log_m = m.clamp_min(tiny).log()
    kl_pm = (p * (p.clamp_min(tiny).log() - log_m)).sum(dim)
    kl_qm = (q * (q.clamp_min(tiny).log() - log_m)).sum(dim)
    jsd = (0.5 * (kl_pm + kl_qm)).clamp(0.0, LN2)
    return jsd / LN2 if normalized else jsd


#: what a distribution ``P(.)`` of a feature map is over: every cell, or the channels of the spatially pooled map
JS_OVER = ("cells", "channels")
#: which maps the distance loss compares: each class map with each query map, or the class maps with each other
JS_PAIRS = ("class-query", "class-class")


def map_distribution(maps: torch.Tensor, temperature: float = 1.0, over: str = "cells") -> torch.Tensor:
    """``P(.)``: feature maps ``[B, C, h, w]`` -> distributions, a softmax of the map / T.

    ``over="cells"``: over the flattened map, ``[B, C * h * w]``; ``over="channels"``: over
    the channels of the spatially averaged map, ``[B, C]``.
    """
    if over == "channels":
        return F.softmax(maps.mean(dim=(2, 3)) / temperature, dim=1)
    return F.softmax(maps.flatten(1) / temperature, dim=1)


def match_targets(query_labels: torch.Tensor, n_way: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 0/1 match labels ``y[j, i] = 1`` iff query ``j`` is of way ``i``: ``[n_query] -> [n_query, n_way]``."""
    return F.one_hot(query_labels, n_way).to(dtype)


def relation_mse_loss(scores: torch.Tensor, query_labels: torch.Tensor) -> torch.Tensor:
    """RelationNet's loss ``1/(n_query n_way) sum_j sum_i (r_ji - y_ji)^2``.

    ``scores`` ``[n_query, n_way]`` relation scores in ``[0, 1]``; ``query_labels`` ``[n_query]``.
    """
    return F.mse_loss(scores, match_targets(query_labels, scores.shape[1], scores.dtype))


def pairwise_js_divergence(
    class_maps: torch.Tensor, query_maps: torch.Tensor, temperature: float = 1.0, normalized: bool = True,
    over: str = "cells",
) -> torch.Tensor:
    """``D[j, i] = D_JS(P(class_maps[i]), P(query_maps[j]))``: ``[n_way, C, h, w]``, ``[n_query, C, h, w]`` -> ``[n_query, n_way]``."""
    p_class = map_distribution(class_maps, temperature, over)  # [n_way, D]
    p_query = map_distribution(query_maps, temperature, over)  # [n_query, D]
    return js_divergence(p_class.unsqueeze(0), p_query.unsqueeze(1), dim=-1, normalized=normalized)


def js_distance_loss(
    class_maps: torch.Tensor,
    query_maps: torch.Tensor,
    query_labels: torch.Tensor,
    temperature: float = 1.0,
    pairs: str = "class-query",
    over: str = "cells",
) -> torch.Tensor:
    """CRN's distance loss, as fsfer reads it (unweighted; CRN multiplies it by lambda).

    Two other readings the literature allows are selectable (``benchmarks/ablate_crn.py``
    measures them): ``pairs="class-class"`` compares the class maps with each other, the
    review's literal ``f^a(S)`` on both sides (``L = 1/N^2 sum_i sum_k [(1 - D(S_i, S_k)) -
    [i = k]]^2``: the DAP maps of different classes pushed apart, 0 exactly when every two
    differ by ``ln 2``), and ``over="channels"`` makes the distributions over the ``C``
    channels of the spatially averaged maps instead of over all ``C*h*w`` cells. Which maps
    go in is the caller's: CRN's default feeds what the relation module's first block makes
    of each map (:meth:`~fsfer.models.methods.relation_module.RelationModule.first_block`).

    The default (class-query pairs, over cells, temperature 1, on the relation module's
    first block, lambda 0.5 in CRN) was chosen by validation accuracy, averaged over 3
    training seeds, both SynthFER protocols and 1 and 5 shots (``benchmarks/results/
    ablate_crn.md``, 5-way, conv4, 32 px, 400 episodes): on the relation module 65.8%,
    on the encoder's maps 64.1%, class-class 59.4%, over channels 34.2% (it stalls near
    chance); temperature 1 64.1% against 60.0% (0.25) and 56.5% (4); lambda 0.5 64.1%
    against 63.8% (0.25), 62.9% (1), 62.0% (0.1) and 60.0% (0, where some seeds collapse).

    ``class_maps`` ``[n_way, C, h, w]`` (the DAP class maps ``f^a(S_i)``), ``query_maps``
    ``[n_query, C, h, w]`` (``f(Q_j)``), ``query_labels`` ``[n_query]`` in ``0..n_way-1``::

        P(x)   = softmax(vec(x) / T)                                  (a distribution over C*h*w cells)
        D_ij   = D_JS(P(f^a(S_i)), P(f(Q_j))) / ln 2                  in [0, 1]
        L_dist = 1/(n_query n_way) sum_j sum_i [ y_ij - (1 - D_ij) ]^2
               = mean_ij [ D_ij - (1 - y_ij) ]^2                       y_ij = 1 iff query j is of class i

    So a query should be at JS distance 0 from its own class map and at the maximum
    (``ln 2``) from the others. Why this reading of the review's garbled
    ``L_dist = 1 - 1/N^2 sum_i sum_j [y^(i,j) - D_JS^(i,j)(P(f^a(S^(j))), P(f^a(S^(j))))]^2``:

    - both printed arguments are ``S^(j)`` (a map against itself, always 0); the ``N^2``
      pairs and the labels ``y^(i,j)`` are those of the relation loss, so, as in CSRN
      (Kim et al., ICCE 2024), the pairs are (class map ``i``, query map ``j``);
    - read literally, minimising ``1 - mean (y - D)^2`` *maximises* the error of ``D``
      against ``y``: its gradient ``2 (y - D)`` is largest where a pair is already right
      and vanishes at the worst case (two different classes with identical
      distributions, ``D = 0``, ``y = 0``), and with ``D <= ln 2 < 1`` the matching
      target is never met. Moving the ``1 -`` onto ``D`` gives a sound MSE: it regresses
      the similarity ``1 - D_ij`` (in ``[0, 1]``) against ``y_ij``, the same form as the
      relation loss, is 0 exactly at the targets and has gradients that vanish only there.
    """
    if pairs not in JS_PAIRS:
        raise ValueError(f"pairs must be one of {', '.join(JS_PAIRS)}; got {pairs!r}")
    if over not in JS_OVER:
        raise ValueError(f"over must be one of {', '.join(JS_OVER)}; got {over!r}")
    n_way = class_maps.shape[0]
    if pairs == "class-class":
        distance = pairwise_js_divergence(class_maps, class_maps, temperature, normalized=True, over=over)
        targets = torch.eye(n_way, dtype=distance.dtype, device=distance.device)
    else:
        distance = pairwise_js_divergence(class_maps, query_maps, temperature, normalized=True, over=over)
        targets = match_targets(query_labels, n_way, distance.dtype)
    return F.mse_loss(1.0 - distance, targets)
