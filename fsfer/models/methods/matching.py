"""Matching Networks: Vinyals, Blundell, Lillicrap, Kavukcuoglu, Wierstra, "Matching Networks for
One Shot Learning", NeurIPS 2016.

A query attends over the support embeddings with a softmax of cosine similarities;
the attention summed per class is the class probability; the loss is its negative log
likelihood. ``fce=True`` adds the full-context embeddings: a bidirectional LSTM over the
support set (g) and an attention LSTM over the query (f).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fsfer.models.methods.base import MetricMethod, feature_shape
from fsfer.models.methods.protonet import embed_vectors

PROB_FLOOR = 1e-8  # log(p) with p floored, so that a class with no attention gives a finite logit


class SupportContextEncoder(nn.Module):
    """FCE g: ``g(x_i, S) = g'(x_i) + h_fwd_i + h_bwd_i`` from a bidirectional LSTM over the support.

    ``[n_support, D] -> [n_support, D]`` (the support order is the LSTM's sequence order).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, bidirectional=True)

    def forward(self, support: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(support.unsqueeze(1))  # sequence n_support, batch 1: [n_support, 1, 2D]
        forward, backward = out.squeeze(1).chunk(2, dim=-1)
        return support + forward + backward


class QueryAttentionLSTM(nn.Module):
    """FCE f: ``steps`` read-attend steps of an LSTM over the support, per query.

    ``h_hat, c_k = LSTM(f'(x), [h_{k-1}, r_{k-1}], c_{k-1})``, ``h_k = h_hat + f'(x)``,
    ``r_k = sum_i softmax_i(h_k . g_i) g_i``; the paper's state ``[h, r]`` is fed here as the
    cell input ``[f'(x), r_{k-1}]`` with state ``(h_{k-1}, c_{k-1})`` so that h keeps size D.
    ``[n_query, D]``, ``[n_support, D]`` -> ``[n_query, D]`` (= ``h_K``).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(2 * dim, dim)

    def forward(self, queries: torch.Tensor, support: torch.Tensor, steps: int) -> torch.Tensor:
        h = torch.zeros_like(queries)
        c = torch.zeros_like(queries)
        readout = torch.zeros_like(queries)
        for _ in range(steps):
            h_hat, c = self.cell(torch.cat([queries, readout], dim=1), (h, c))
            h = h_hat + queries
            readout = F.softmax(h @ support.T, dim=1) @ support
        return h


@dataclass
class MatchingSummary:
    """Support embeddings ``[n_support, D]`` (after g) and their one-hot labels ``[n_support, n_way]``."""

    support: torch.Tensor
    one_hot: torch.Tensor


class CosineAttention(nn.Module):
    """``P(y = k | x) = sum_{i: y_i = k} softmax_i(cos(f(x), g(x_i)))``, returned as ``log P`` ``[n_query, n_way]``."""

    def forward(self, queries: torch.Tensor, support: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
        cosine = F.normalize(queries, dim=1) @ F.normalize(support, dim=1).T  # [n_query, n_support]
        probs = F.softmax(cosine, dim=1) @ one_hot
        return probs.clamp_min(PROB_FLOOR).log()


class MatchingNetwork(MetricMethod):
    """Matching Networks; logits ``[n_query, n_way]`` are log class probabilities; losses: ``nll``.

    ``pooled`` as in ProtoNet. ``fce=True`` adds full-context embeddings; their LSTMs have
    width ``D`` (``C`` when pooled, else ``C*h*w`` for ``image_size`` images: prefer
    ``pooled=True`` or a small map), and ``fce_steps`` attention steps (default: the number
    of support images). With ``fce`` the support order matters (it is the LSTM's sequence).
    """

    def __init__(
        self,
        embedder: nn.Module,
        fce: bool = False,
        pooled: bool = False,
        image_size: int | tuple[int, int] = 84,
        fce_steps: int | None = None,
    ) -> None:
        super().__init__(embedder)
        self.pooled = pooled
        self.fce = fce
        self.fce_steps = fce_steps
        self.attention = CosineAttention()
        if fce:
            if pooled:
                dim = int(embedder.out_channels)
            else:
                channels, height, width = feature_shape(embedder, image_size)
                dim = channels * height * width
            self.support_encoder = SupportContextEncoder(dim)
            self.query_encoder = QueryAttentionLSTM(dim)

    def compose(self, summary: MatchingSummary, weights: torch.Tensor) -> MatchingSummary:
        """Soft labels: a support image of basic class b counts ``weights[k, b]`` towards new class k."""
        return MatchingSummary(summary.support, summary.one_hot @ weights.to(summary.one_hot.dtype).T)

    def summarise(self, support_features: torch.Tensor, support_labels: torch.Tensor, n_way: int) -> MatchingSummary:
        support = embed_vectors(support_features, self.pooled)
        if self.fce:
            support = self.support_encoder(support)
        return MatchingSummary(support, F.one_hot(support_labels, n_way).to(support.dtype))

    def score(self, summary: MatchingSummary, query_features: torch.Tensor) -> torch.Tensor:
        queries = embed_vectors(query_features, self.pooled)
        if self.fce:
            steps = self.fce_steps if self.fce_steps is not None else summary.support.shape[0]
            queries = self.query_encoder(queries, summary.support, steps)
        return self.attention(queries, summary.support, summary.one_hot)

    def episode_losses(
        self, logits: torch.Tensor, query_labels: torch.Tensor, summary: MatchingSummary, query_features: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"nll": F.nll_loss(logits, query_labels)}


METHODS = {"matching": MatchingNetwork}
