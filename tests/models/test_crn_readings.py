"""CRN's distance-loss readings and ablation switches: each equals its formula, is 0 at its targets,
and changes only the computation it names."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from fsfer.episodes import Episode
from fsfer.errors import ModelError
from fsfer.models import build_method
from fsfer.models.losses import js_distance_loss, map_distribution


def jsd(p: list[float], q: list[float]) -> float:
    """Jensen-Shannon divergence in nats, by hand."""
    m = [(a + b) / 2 for a, b in zip(p, q)]
    return sum(0.5 * a * math.log(a / c) if a else 0.0 for a, c in zip(p, m)) + sum(
        0.5 * b * math.log(b / c) if b else 0.0 for b, c in zip(q, m))


def maps(rows: list[list[float]], h: int = 1, w: int = 1) -> torch.Tensor:
    """``[B, C]`` values -> maps ``[B, C, h, w]`` with every cell of a channel equal."""
    t = torch.tensor(rows, dtype=torch.float32)
    return t[:, :, None, None].expand(-1, -1, h, w).contiguous()


def test_class_class_reading_equals_its_formula() -> None:
    # class maps (0, 0), (ln 3, 0), (0, ln 3): P = (1/2, 1/2), (3/4, 1/4), (1/4, 3/4)
    ln3 = math.log(3.0)
    classes = maps([[0, 0], [ln3, 0], [0, ln3]])
    p = [[0.5, 0.5], [0.75, 0.25], [0.25, 0.75]]
    d = [[jsd(p[i], p[k]) / math.log(2) for k in range(3)] for i in range(3)]
    expected = sum(((1 - d[i][k]) - (i == k)) ** 2 for i in range(3) for k in range(3)) / 9
    queries = maps([[5, -5]])  # ignored by this reading
    got = js_distance_loss(classes, queries, torch.tensor([0]), pairs="class-class")
    assert math.isclose(got.item(), expected, rel_tol=1e-5)


def test_channels_reading_pools_the_cells_first() -> None:
    # a 2-channel map whose cells differ: "cells" sees 8 cells, "channels" the two cell means
    classes = torch.tensor([[[[0.0, 2.0], [0.0, 2.0]], [[1.0, 1.0], [1.0, 1.0]]]])  # [1, 2, 2, 2]
    queries = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    assert torch.allclose(map_distribution(classes, over="channels"), torch.softmax(torch.tensor([[1.0, 1.0]]), 1))
    d = jsd([0.5, 0.5], torch.softmax(torch.tensor([1.0, 0.0]), 0).tolist()) / math.log(2)
    got = js_distance_loss(classes, queries, torch.tensor([0]), over="channels")
    assert math.isclose(got.item(), (1 - d - 1) ** 2, rel_tol=1e-5)
    cells = js_distance_loss(classes, queries, torch.tensor([0]), over="cells")
    assert not math.isclose(cells.item(), got.item(), rel_tol=1e-3)


@pytest.mark.parametrize("pairs", ["class-query", "class-class"])
@pytest.mark.parametrize("over", ["cells", "channels"])
def test_every_reading_is_exactly_zero_at_its_targets(pairs: str, over: str) -> None:
    # one-hot distributions (softmax of +-1000 underflows to exact 0/1): matching maps at D = 0,
    # different ones at D = ln 2
    big = 1000.0
    classes = maps([[big, -big, -big], [-big, big, -big], [-big, -big, big]])
    queries = maps([[-big, big, -big], [big, -big, -big]])
    labels = torch.tensor([1, 0])
    assert js_distance_loss(classes, queries, labels, pairs=pairs, over=over).item() == 0.0
    wrong = torch.tensor([0, 1])
    if pairs == "class-query":
        assert js_distance_loss(classes, queries, wrong, pairs=pairs, over=over).item() > 0.4


def _episode(k_shot: int = 2) -> Episode:
    torch.manual_seed(0)
    return Episode(
        support_images=torch.randn(3 * k_shot, 3, 32, 32),
        support_labels=torch.arange(3).repeat_interleave(k_shot),
        query_images=torch.randn(6, 3, 32, 32),
        query_labels=torch.arange(3).repeat_interleave(2),
        classes=torch.tensor([4, 0, 2]),
    )


def _run(options: dict, k_shot: int = 2, method: str = "crn"):
    torch.manual_seed(1)
    model = build_method(method, "conv4", image_size=32, **options)
    model.train()
    logits, losses = model(_episode(k_shot))
    return model, logits, losses


@pytest.mark.parametrize("switch", [
    {"js_pairs": "class-class"}, {"js_over": "channels"}, {"js_on": "encoder"}, {"temperature": 4.0},
    {"lambda_dist": 0.25},
])
def test_a_distance_switch_changes_only_the_distance_loss(switch: dict) -> None:
    _, base_logits, base = _run({})
    model, logits, losses = _run(switch)
    assert torch.equal(logits, base_logits) and torch.equal(losses["relation"], base["relation"])
    assert not torch.isclose(losses["js_distance"], base["js_distance"])
    if "lambda_dist" in switch:  # the weight scales the same loss
        assert torch.isclose(losses["js_distance"] / 0.25, base["js_distance"] / 0.5)


def test_the_relation_reading_leaves_batchnorm_statistics_alone() -> None:
    model, _, _ = _run({"js_on": "relation"})
    plain, _, _ = _run({"js_on": "encoder"})
    bn, ref = model.relation.block1[1], plain.relation.block1[1]
    assert torch.equal(bn.running_mean, ref.running_mean) and torch.equal(bn.running_var, ref.running_var)


def test_lambda_zero_switches_the_distance_loss_off() -> None:
    _, base_logits, base = _run({})
    _, logits, losses = _run({"lambda_dist": 0.0})
    assert set(losses) == {"relation"} and torch.equal(losses["relation"], base["relation"])
    assert torch.equal(logits, base_logits)


@pytest.mark.parametrize("method", ["crn", "relation"])
def test_pool_changes_the_class_maps_only_with_several_shots(method: str) -> None:
    default = "mean" if method == "crn" else "sum"
    other = "sum" if method == "crn" else "mean"
    for k_shot in (1, 3):
        a, la, _ = _run({}, k_shot, method)
        b, lb, _ = _run({"pool": other}, k_shot, method)
        assert a.pool == default and b.pool == other
        assert torch.equal(la, lb) == (k_shot == 1)  # one shot: the sum is the mean
    feats = torch.randn(4, 2, 1, 1)
    labels = torch.tensor([0, 0, 1, 1])
    summed = build_method(method, "conv4", image_size=32, pool="sum").summarise(feats, labels, 2)
    averaged = build_method(method, "conv4", image_size=32, pool="mean").summarise(feats, labels, 2)
    assert torch.allclose(summed, 2 * averaged)


def test_bad_options_are_named() -> None:
    with pytest.raises(ModelError, match="js_pairs must be one of class-query, class-class"):
        build_method("crn", "conv4", image_size=32, js_pairs="query-query")
    with pytest.raises(ModelError, match="pool must be one of sum, mean"):
        build_method("relation", "conv4", image_size=32, pool="max")
    with pytest.raises(ModelError, match="temperature > 0"):
        build_method("crn", "conv4", image_size=32, temperature=0)


def test_the_relation_reading_is_the_loss_on_the_first_block_of_each_map() -> None:
    model, _, losses = _run({"js_on": "relation"})
    episode = _episode()
    with torch.no_grad():
        support = model.embedder(episode.support_images)
        query = model.embedder(episode.query_images)
        dap = model.summarise(support, episode.support_labels, 3)
        g1 = model.relation.first_block
        # the first block on [x; x]: its split convolution, BatchNorm with the batch's statistics, ReLU, pool
        conv, bn = model.relation.block1[0], model.relation.block1[1]
        x = torch.nn.functional.conv2d(torch.cat([dap, dap], 1), conv.weight, None, conv.stride, conv.padding)
        by_hand = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.batch_norm(
            x, None, None, bn.weight, bn.bias, training=True, eps=bn.eps)), 2)
        assert torch.allclose(g1(dap), by_hand, atol=1e-5)
        expected = 0.5 * js_distance_loss(g1(dap), g1(query), episode.query_labels)
    assert torch.allclose(losses["js_distance"], expected, atol=1e-6)
