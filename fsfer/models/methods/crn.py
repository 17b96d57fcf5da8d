"""CRN: Zhu, Mao, Jia, Ocquaye, Tu, "Convolutional relation network for facial expression
recognition in the wild with few-shot learning", Expert Systems with Applications 189 (2022) 116046.

RelationNet with two changes: Depth Average Pooling (the K support maps of a class are
averaged, not summed) and a Jensen-Shannon distance loss between the DAP class maps and
the query maps, added with weight lambda: ``L = L_r + lambda L_dist``. The exact reading
of the review's garbled ``L_dist`` is in :func:`fsfer.models.losses.js_distance_loss`.
"""

from __future__ import annotations

import torch
from torch import nn

from fsfer.errors import ModelError
from fsfer.models.losses import JS_OVER, JS_PAIRS, js_distance_loss, relation_mse_loss
from fsfer.models.methods.base import class_means
from fsfer.models.methods.relation import RelationNetwork


#: where the distance loss reads the maps: the encoder's, or the relation module's after its first block
JS_ON = ("encoder", "relation")


class DepthAveragePooling(nn.Module):
    """DAP: the element-wise MEAN of a class's support maps (what the shots have in common).

    ``[n_support, C, h, w]``, labels ``[n_support]`` -> ``[n_way, C, h, w]`` (support only).
    """

    def forward(self, support_maps: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> torch.Tensor:
        return class_means(support_maps, support_labels, n_way)


class ConvolutionalRelationNetwork(RelationNetwork):
    """CRN; logits are the relation scores ``[n_query, n_way]`` in ``[0, 1]``.

    Losses (summed by the training loop): ``relation`` = L_r, the MSE of the scores against
    the one-hot match labels, and ``js_distance`` = ``lambda_dist * L_dist`` with
    ``L_dist = mean_ij [y_ij - (1 - D_JS(P(g1(DAP_i)), P(g1(Q_j))) / ln 2)]^2``, where ``g1``
    is the relation module's first block applied to one map (see
    :func:`~fsfer.models.losses.js_distance_loss` for the reading and why; lambda is not
    published; 0.5 by default, CSRN uses 0.5-0.7). ``temperature`` divides the flattened
    maps before the softmax that makes them distributions. The L_r + lambda L_dist of each
    episode is the paper's per-task term; the 1/K average over tasks is the training loop's.

    Options for ablations (``[method_options]``; ``benchmarks/ablate_crn.py``): ``pool``
    (``"mean"``, DAP, or RelationNet's ``"sum"``), ``js_pairs`` (``"class-query"`` or
    ``"class-class"``), ``js_over`` (``"cells"`` or ``"channels"``) and ``js_on``
    (``"relation"``, the default: what the relation module's first block makes of each
    map, :meth:`RelationModule.first_block`; ``"encoder"``: the encoder's maps, CSRN's
    reading and fsfer's default before 0.3). ``lambda_dist = 0`` switches the distance
    loss off (it is then not computed, and not reported). The defaults were chosen by
    validation accuracy over seeds and SynthFER protocols; the evidence is in
    :func:`~fsfer.models.losses.js_distance_loss` and ``benchmarks/results/ablate_crn.md``.
    """

    #: CRN's depth average pooling (``pool = "sum"`` gives RelationNet's sum, for ablations)
    default_pool = "mean"

    def __init__(
        self,
        embedder: nn.Module,
        image_size: int | tuple[int, int] = 84,
        lambda_dist: float = 0.5,
        temperature: float = 1.0,
        hidden: int = 64,
        fc_hidden: int = 8,
        pool: str | None = None,
        js_pairs: str = "class-query",
        js_over: str = "cells",
        js_on: str = "relation",
    ) -> None:
        super().__init__(embedder, image_size=image_size, hidden=hidden, fc_hidden=fc_hidden, pool=pool)
        for name, value, allowed in (("js_pairs", js_pairs, JS_PAIRS), ("js_over", js_over, JS_OVER), ("js_on", js_on, JS_ON)):
            if value not in allowed:
                raise ModelError(f"crn: {name} must be one of {', '.join(allowed)}; got {value!r}")
        if lambda_dist < 0 or temperature <= 0:
            raise ModelError(f"crn: lambda_dist must be >= 0 and temperature > 0; got {lambda_dist} and {temperature}")
        self.lambda_dist = float(lambda_dist)
        self.temperature = float(temperature)
        self.js_pairs, self.js_over, self.js_on = js_pairs, js_over, js_on

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: torch.Tensor, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        losses = {"relation": relation_mse_loss(logits, query_labels)}
        if self.lambda_dist == 0:  # the distance loss switched off: not computed at all
            return losses
        class_maps, query_maps = summary, query_features
        if self.js_on == "relation":
            class_maps = self.relation.first_block(summary)
            query_maps = self.relation.first_block(query_features) if self.js_pairs == "class-query" else query_maps
        distance = js_distance_loss(class_maps, query_maps, query_labels, self.temperature, self.js_pairs, self.js_over)
        losses["js_distance"] = self.lambda_dist * distance
        return losses


METHODS = {"crn": ConvolutionalRelationNetwork}
