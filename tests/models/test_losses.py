"""The losses equal their formulas on hand-made numbers; the JS divergence has its textbook properties."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fsfer.models.losses import (
    LN2,
    js_distance_loss,
    js_divergence,
    map_distribution,
    pairwise_js_divergence,
    relation_mse_loss,
)


def kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def jsd(p: list[float], q: list[float]) -> float:
    m = [(a + b) / 2 for a, b in zip(p, q)]
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def test_js_divergence_is_zero_for_equal_distributions():
    p = torch.softmax(torch.randn(5, 7, generator=torch.Generator().manual_seed(0)), dim=1)
    assert torch.allclose(js_divergence(p, p), torch.zeros(5), atol=1e-7)


def test_js_divergence_is_symmetric():
    g = torch.Generator().manual_seed(1)
    p = torch.softmax(torch.randn(4, 9, generator=g), dim=1)
    q = torch.softmax(torch.randn(4, 9, generator=g), dim=1)
    assert torch.allclose(js_divergence(p, q), js_divergence(q, p), atol=1e-7)
    assert (js_divergence(p, q) > 0).all()


def test_js_divergence_is_ln2_for_disjoint_distributions_and_1_normalised():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0])
    q = torch.tensor([0.0, 0.0, 0.3, 0.7])
    assert math.isclose(js_divergence(p, q).item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(js_divergence(p, q, normalized=True).item(), 1.0, rel_tol=1e-6)


def test_js_divergence_hand_value():
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4); KL(p||m) = ln(4/3)/2, KL(q||m) = ln(4/3); JSD = 3/4 ln(4/3)
    value = js_divergence(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])).item()
    assert math.isclose(value, 0.75 * math.log(4 / 3), rel_tol=1e-6)
    assert math.isclose(value, jsd([0.5, 0.5], [1.0, 0.0]), rel_tol=1e-6)


def test_js_divergence_stays_in_bounds_and_has_finite_gradients_at_zeros():
    g = torch.Generator().manual_seed(2)
    p = torch.softmax(5 * torch.randn(50, 6, generator=g), dim=1)
    q = torch.softmax(5 * torch.randn(50, 6, generator=g), dim=1)
    d = js_divergence(p, q)
    assert (d >= 0).all() and (d <= LN2).all()
    p0 = torch.tensor([1.0, 0.0, 0.0], requires_grad=True)
    q0 = torch.tensor([0.0, 0.5, 0.5], requires_grad=True)
    js_divergence(p0, q0).backward()
    assert torch.isfinite(p0.grad).all() and torch.isfinite(q0.grad).all()


def test_map_distribution_is_a_softmax_over_the_flattened_map():
    maps = torch.tensor([[[[0.0, math.log(3.0)]]]])  # [1, 1, 1, 2]
    assert torch.allclose(map_distribution(maps), torch.tensor([[0.25, 0.75]]))
    maps = torch.randn(3, 4, 5, 5)
    probs = map_distribution(maps, temperature=2.0)
    assert probs.shape == (3, 100)
    assert torch.allclose(probs, F.softmax(maps.flatten(1) / 2.0, dim=1))


def test_relation_mse_loss_hand_value():
    scores = torch.tensor([[0.9, 0.2], [0.4, 0.5]])
    labels = torch.tensor([0, 1])
    # (0.9-1)^2 + 0.2^2 + 0.4^2 + (0.5-1)^2 = 0.01 + 0.04 + 0.16 + 0.25 = 0.46, over 4 pairs
    assert math.isclose(relation_mse_loss(scores, labels).item(), 0.46 / 4, rel_tol=1e-6)


def test_pairwise_js_divergence_is_query_by_class():
    class_maps = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]]).view(2, 2, 1, 1)
    query_maps = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0], [0.0, 0.0]]).view(3, 2, 1, 1)
    d = pairwise_js_divergence(class_maps, query_maps, normalized=False)
    assert d.shape == (3, 2)
    between = jsd([0.5, 0.5], [0.75, 0.25])
    expected = torch.tensor([[between, 0.0], [0.0, between], [0.0, between]])
    assert torch.allclose(d, expected, atol=1e-6)


def test_js_distance_loss_hand_value():
    # class maps a = (0, 0) -> P = (1/2, 1/2); b = (ln 3, 0) -> P = (3/4, 1/4)
    # query 0 = a (label 0), query 1 = b (label 1): D = 0 on the matches, d / ln 2 on the two mismatches
    class_maps = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]]).view(2, 2, 1, 1)
    query_maps = class_maps.clone()
    labels = torch.tensor([0, 1])
    d = jsd([0.5, 0.5], [0.75, 0.25]) / math.log(2)
    # mean over 4 pairs of [y - (1 - D)]^2: matches (1 - 1)^2 = 0, mismatches (0 - (1 - d))^2
    expected = 2 * (1 - d) ** 2 / 4
    assert math.isclose(js_distance_loss(class_maps, query_maps, labels).item(), expected, rel_tol=1e-5)


def test_js_distance_loss_is_zero_at_its_targets_and_one_at_the_worst():
    # disjoint (one-hot, via a large temperature-free logit gap) distributions: matches D = 0, mismatches D = 1
    class_maps = torch.tensor([[60.0, 0.0], [0.0, 60.0]]).view(2, 2, 1, 1)
    labels = torch.tensor([0, 1])
    assert js_distance_loss(class_maps, class_maps.clone(), labels).item() < 1e-6
    # every map identical: mismatches are at D = 0 where they should be at 1 -> loss = 2 pairs * 1 / 4
    same = torch.zeros(2, 2, 1, 1)
    assert math.isclose(js_distance_loss(same, same.clone(), labels).item(), 0.5, rel_tol=1e-6)
