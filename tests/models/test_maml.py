"""MAML and ANIL: the inner loop equals hand-written SGD; BatchNorm running statistics stay untouched."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fsfer.episodes import Episode
from fsfer.errors import EpisodeError, ModelError
from fsfer.models import build_embedder, build_method
from fsfer.models.methods.maml import ANIL, MAML, learn2learn_maml, transductive_batch_norm


def manual_maml_logits(w, b, xs, ys, xq, lr, steps):
    """Linear softmax classifier, `steps` SGD steps on the mean cross-entropy, gradients written out."""
    for _ in range(steps):
        probs = torch.softmax(xs @ w.T + b, dim=1)
        g = (probs - F.one_hot(ys, w.shape[0]).float()) / xs.shape[0]  # d CE / d logits
        w, b = w - lr * g.T @ xs, b - lr * g.sum(0)
    return xq @ w.T + b


@pytest.fixture
def vector_episode(make_vectors):
    return Episode(
        make_vectors([[1, 0], [2, 1], [0, 1], [-1, 2]]),
        torch.tensor([0, 0, 1, 1]),
        make_vectors([[1, 1], [0, 3], [2, -1]]),
        torch.tensor([0, 1, 0]),
        torch.tensor([0, 1]),
    )


@pytest.mark.parametrize("name", ["maml", "anil"])
@pytest.mark.parametrize("steps", [1, 2])
def test_inner_loop_is_sgd_on_the_support(identity_embedder, vector_episode, name, steps):
    method = build_method(name, identity_embedder(2), n_way=2, inner_steps=steps, inner_lr=0.5)
    w = torch.tensor([[0.5, -0.5], [0.0, 1.0]])
    b = torch.tensor([0.1, -0.1])
    with torch.no_grad():
        method.head.linear.weight.copy_(w)
        method.head.linear.bias.copy_(b)
    logits, losses = method(vector_episode)
    xs, xq = vector_episode.support_images.flatten(1), vector_episode.query_images.flatten(1)
    expected = manual_maml_logits(w, b, xs, vector_episode.support_labels, xq, 0.5, steps)
    assert torch.allclose(logits, expected, atol=1e-5)
    assert set(losses) == {"cross_entropy"}
    assert torch.allclose(losses["cross_entropy"], F.cross_entropy(expected, vector_episode.query_labels), atol=1e-6)
    # the meta-parameters themselves are not changed by the inner loop
    assert torch.equal(method.head.linear.weight.detach(), w)
    method.eval()
    method.adapt(vector_episode.support_images, vector_episode.support_labels)
    assert torch.allclose(method.predict(vector_episode.query_images), expected, atol=1e-5)
    assert not any("module" in key for key in method.state_dict())  # the adapted clone is not a submodule


def test_anil_embeds_once(identity_embedder, vector_episode):
    embedder = identity_embedder(2)
    method = build_method("anil", embedder, n_way=2, inner_steps=3)
    method(vector_episode)
    assert embedder.calls == 2  # support and query, once each


def bn_buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items() if "running" in k or "num_batches" in k}


def test_learn2learn_alone_corrupts_shared_bn_statistics():
    """The problem the guard solves: a clone's train-mode forward writes the original's running stats."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    before = bn_buffers(net)
    clone = learn2learn_maml()(net, lr=0.1).clone()
    clone(torch.randn(4, 3, 8, 8) + 3)
    assert not torch.equal(bn_buffers(net)["1.running_mean"], before["1.running_mean"])


def test_maml_leaves_bn_running_statistics_untouched(make_episode):
    torch.manual_seed(0)
    embedder = build_embedder("conv4", hidden=8)
    method = build_method("maml", embedder, n_way=3, inner_steps=2, inner_lr=0.1)
    episode = make_episode(size=16)
    episode = episode.map_images(lambda x: x + 2.0)  # non-zero means, so any update would show
    before = bn_buffers(method)
    flags = [(m.training, m.track_running_stats) for m in embedder.modules() if isinstance(m, nn.BatchNorm2d)]
    method.train()
    logits, losses = method(episode)
    losses["cross_entropy"].backward()
    after_train = bn_buffers(method)
    method.eval()
    method.adapt(episode.support_images, episode.support_labels)
    method.predict(episode.query_images)
    method(episode)
    after_eval = bn_buffers(method)
    for key in before:
        assert torch.equal(before[key], after_train[key]), key
        assert torch.equal(before[key], after_eval[key]), key
    # and the BN flags are restored
    method.train()
    assert flags == [(m.training, m.track_running_stats) for m in embedder.modules() if isinstance(m, nn.BatchNorm2d)]


def test_transductive_batch_norm_uses_batch_statistics_in_eval_mode():
    bn = nn.BatchNorm1d(2).eval()
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    with transductive_batch_norm(bn):
        out = bn(x)
    assert torch.allclose(out, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), atol=1e-3)
    assert not bn.training and bn.track_running_stats
    assert torch.equal(bn.running_mean, torch.zeros(2))


def test_head_ways(make_episode):
    torch.manual_seed(0)
    method = build_method("maml", build_embedder("conv4", hidden=8), n_way=5, inner_steps=1)
    assert isinstance(method, MAML)
    logits, _ = method(make_episode(n_way=3, size=16))
    assert logits.shape == (6, 3)  # the first 3 of the 5 outputs
    with pytest.raises(EpisodeError, match="5-way head.*6-way episode"):
        method(make_episode(n_way=6, size=16))


@pytest.mark.parametrize("first_order", [True, False])
def test_meta_gradients_reach_the_embedder(make_episode, first_order):
    torch.manual_seed(0)
    method = build_method("maml", build_embedder("conv4", hidden=8), n_way=3, inner_steps=1, first_order=first_order)
    _, losses = method(make_episode(size=16))
    losses["cross_entropy"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in method.parameters())


def test_eval_forward_under_no_grad_still_adapts(identity_embedder, vector_episode):
    method = build_method("anil", identity_embedder(2), n_way=2, inner_steps=1, inner_lr=1.0)
    method.eval()
    with torch.no_grad():
        adapted, _ = method(vector_episode)
    method.inner_lr = 0.0
    with torch.no_grad():
        unadapted, _ = method(vector_episode)
    assert not torch.allclose(adapted, unadapted)


def test_test_inner_steps(identity_embedder, vector_episode):
    method = build_method("anil", identity_embedder(2), n_way=2, inner_steps=1, test_inner_steps=4)
    assert isinstance(method, ANIL)
    assert method.steps() == 1
    method.eval()
    assert method.steps() == 4


def test_adapt_under_inference_mode_is_refused(identity_embedder, vector_episode):
    method = build_method("maml", identity_embedder(2), n_way=2).eval()
    with torch.inference_mode(), pytest.raises(ModelError, match="inference_mode"):
        method.adapt(vector_episode.support_images, vector_episode.support_labels)


def test_frozen_parameters_do_not_adapt(make_episode):
    torch.manual_seed(0)
    method = build_method("maml", build_embedder("conv4", hidden=8), n_way=3, inner_steps=1)
    for p in method.embedder.parameters():
        p.requires_grad_(False)
    _, losses = method(make_episode(size=16))
    losses["cross_entropy"].backward()
    assert method.head.linear.weight.grad is not None
    assert all(p.grad is None for p in method.embedder.parameters())


def test_learn2learn_is_imported_quietly():
    import subprocess
    import sys

    code = "from fsfer.models.methods.maml import learn2learn_maml; learn2learn_maml()"
    result = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
