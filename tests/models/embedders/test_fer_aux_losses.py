"""Auxiliary losses equal to their formulas on hand-made cases: DAN's affinity and partition, DACL's sparse centre."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch

from fsfer.errors import ModelError
from fsfer.models import build_embedder
from fsfer.models.embedders.dan import AffinityLoss, PartitionLoss
from fsfer.models.embedders.dacl import SparseCenterLoss
from fsfer.models.embedders.records import ForwardRecords


def test_affinity_loss_on_a_hand_made_case():
    loss = AffinityLoss(num_classes=3, dim=2)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]))
    # per-dimension unbiased variance across the 3 centres: (0, 2, 0) -> 4/3 on each axis; sigma^2 = 8/3
    x = torch.tensor([[1.0, 0.0], [2.0, 1.0]])
    labels = torch.tensor([0, 1])
    # squared distances to the own centre: 1 and 1 -> mean(1, 1) / (8/3) = 3/8
    assert math.isclose(loss(x, labels).item(), 3 / 8, rel_tol=1e-6)
    # on the centres themselves the clamp keeps it at 1e-12, never 0
    assert loss(loss.centers.detach()[:2], labels).item() == pytest.approx(1e-12)


def test_affinity_centres_learn_by_gradient():
    loss = AffinityLoss(num_classes=3, dim=2)
    loss(torch.randn(4, 2), torch.tensor([0, 1, 2, 0])).backward()
    assert loss.centers.grad is not None and loss.centers.grad.abs().sum() > 0


def test_partition_loss_on_a_hand_made_case():
    heads = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])  # [N=1, k=2, C=2]: variance across heads 2 and 2
    assert math.isclose(PartitionLoss()(heads).item(), math.log(1 + 2 / 2), rel_tol=1e-6)
    assert PartitionLoss()(torch.randn(3, 1, 5)).item() == 0.0  # k = 1


def test_dan_aux_losses_use_the_calls_that_made_the_features():
    torch.manual_seed(0)
    dan = build_embedder("dan").eval()  # eval: BN with running stats, so batching does not matter
    support, query = torch.randn(3, 3, 32, 32), torch.randn(2, 3, 32, 32)
    labels = torch.tensor([4, 1, 6, 4, 1])
    features = torch.cat([dan(support), dan(query)])
    losses = dan.aux_losses(features, labels)
    assert set(losses) == {"affinity", "partition"}
    images = torch.cat([support, query])
    with torch.no_grad():
        maps = dan.fcn(images)
        heads = torch.log_softmax(dan.man(maps), dim=1)
        pooled = maps.mean(dim=(2, 3))
        centres = dan.affinity.centers
        spread = centres.var(dim=0).sum()
        affinity = ((pooled - centres[labels]) ** 2).sum(1).div(spread).clamp(1e-12, 1e12).mean()
        partition = torch.log(1 + 4 / (heads.var(dim=1).mean() + torch.finfo(torch.float64).eps))
    assert torch.allclose(losses["affinity"], affinity, rtol=1e-4)
    assert torch.allclose(losses["partition"], partition, rtol=1e-4)
    # the losses carry the graph of the forward calls: gradients reach the trunk, the heads and the centres
    (losses["affinity"] + losses["partition"]).backward()
    assert dan.fcn.trunk.conv1.weight.grad.abs().sum() > 0
    assert dan.man.heads[0].sa.conv_3x3[0].weight.grad.abs().sum() > 0
    assert dan.affinity.centers.grad.abs().sum() > 0


def test_dan_aux_loss_weights_and_class_range():
    torch.manual_seed(0)
    dan = build_embedder("dan", affinity_weight=0.5, partition_weight=0.0, num_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    features = dan(x)
    full = build_embedder("dan", num_classes=3).eval()
    full.load_state_dict(dan.state_dict())
    reference = full.aux_losses(full(x), torch.tensor([0, 2]))
    losses = dan.aux_losses(features, torch.tensor([0, 2]))
    assert torch.allclose(losses["affinity"], 0.5 * reference["affinity"])
    assert losses["partition"].item() == 0.0
    dan(x)
    with pytest.raises(ModelError, match="num_classes >= 6"):
        dan.aux_losses(dan(x), torch.tensor([0, 5]))


def test_dan_aux_losses_refuse_foreign_features():
    dan = build_embedder("dan").eval()
    dan(torch.randn(2, 3, 32, 32))
    with pytest.raises(ModelError, match="own recent forward calls"):
        dan.aux_losses(torch.randn(2, 512, 1, 1), torch.tensor([0, 1]))


def test_forward_records_are_bounded_cleared_and_not_copied():
    records = ForwardRecords(capacity=3)
    outs = [torch.full((2, 1), float(i)) for i in range(5)]
    for i, out in enumerate(outs):
        records.add(out, extra=out * 10)
    assert len(records) == 3
    found = records.match(torch.cat([outs[3], outs[4]]), "test")
    assert torch.equal(found["extra"], torch.cat([outs[3], outs[4]]) * 10)
    assert len(records) == 0
    with pytest.raises(ModelError):
        records.match(outs[0], "test")
    # a module holding graph-carrying records can still be deep-copied and pickled
    dan = build_embedder("dan").train()
    dan(torch.randn(2, 3, 32, 32))
    assert len(copy.deepcopy(dan)._records) == 0
    assert len(pickle.loads(pickle.dumps(dan))._records) == 0


def test_sparse_center_loss_and_update_on_a_hand_made_case():
    loss = SparseCenterLoss(num_classes=3, dim=2, alpha=0.5)
    loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]))
    x = torch.tensor([[1.0, 2.0], [3.0, 1.0], [0.0, 1.0]])
    a = torch.tensor([[1.0, 0.5], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # 1/(2m) sum a (x - c)^2 = (1*1 + 0.5*4 + 0*9 + 1*1 + 1*1 + 1*0) / 6 = 5/6
    assert math.isclose(loss(x, a, labels).item(), 5 / 6, rel_tol=1e-6)
    loss.update(x, a, labels)
    # class 0 (n=2): sum a (c - x) = (-1, -1) + (0, -1) = (-1, -2); /3; c <- c - 0.5 * that = (1/6, 1/3)
    # class 1 (n=1): a (c - x) = (1, 0); /2; c <- (1, 1) - 0.5 * (0.5, 0) = (0.75, 1); class 2 absent: unchanged
    expected = torch.tensor([[1 / 6, 1 / 3], [0.75, 1.0], [5.0, 5.0]])
    assert torch.allclose(loss.centers, expected)


def test_dacl_aux_loss_recomputes_attention_and_moves_centres_in_training_only():
    torch.manual_seed(0)
    dacl = build_embedder("dacl", hidden=(64, 32, 16), lambda_sc=0.01, alpha=0.5)
    features = torch.randn(4, 512, 2, 2, requires_grad=True)
    labels = torch.tensor([1, 1, 3, 7])
    dacl.eval()
    before = dacl.sparse_center.centers.clone()
    with torch.no_grad():
        a = dacl.attention(features)
        x = features.mean(dim=(2, 3))
        expected = 0.01 * (a * (x - before[labels]) ** 2).sum() / (2 * 4)
    loss = dacl.aux_losses(features, labels)["sparse_center"]
    assert torch.allclose(loss, expected, rtol=1e-5)
    assert torch.equal(dacl.sparse_center.centers, before)  # eval mode: the centres stay
    dacl.train()
    state = {k: v.clone() for k, v in dacl.attention.state_dict().items()}
    with torch.no_grad():
        a = dacl.attention(features)  # train-mode BN: the same batch statistics as the call below
        expected = 0.01 * (a * (x - before[labels]) ** 2).sum() / (2 * 4)
        rule = before.clone()
        for j in labels.unique():
            mine = labels == j
            rule[j] -= 0.5 * (a[mine] * (before[j] - x[mine])).sum(0) / (1 + mine.sum())
    dacl.attention.load_state_dict(state)
    loss = dacl.aux_losses(features, labels)["sparse_center"]
    assert torch.allclose(loss, expected, rtol=1e-5)  # computed with the centres before the update
    assert torch.allclose(dacl.sparse_center.centers, rule, atol=1e-6)
    assert torch.equal(dacl.sparse_center.centers[[0, 2, 4, 5, 6]], before[[0, 2, 4, 5, 6]])
    # gradients reach the features and the attention branch; the centres are not trained by backprop
    loss.backward()
    assert features.grad.abs().sum() > 0
    assert dacl.attention.mhbc.classifiers.weight.grad.abs().sum() > 0
    assert "sparse_center.centers" not in dict(dacl.named_parameters())
    with pytest.raises(ModelError, match="num_classes >= 9"):
        dacl.aux_losses(features, torch.tensor([0, 1, 2, 8]))
