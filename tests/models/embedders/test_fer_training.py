"""Every FER backbone trains a few episodes with CRN and ProtoNet (CPU; CUDA when present); MAD/MSAD randomness."""

from __future__ import annotations

import pytest
import torch
from timm.layers import Attention

from fsfer.models import build_embedder, build_method
from fsfer.models.embedders.attention import MultiHeadSelfAttentionDropping
from fsfer.models.embedders.transfer import MultiAttentionDropping

FER_BACKBONES = ("resnet18", "irse50", "dan", "dacl", "vtff", "transfer")
AUX = {"dan": {"affinity", "partition"}, "dacl": {"sparse_center"}}
SIZE = 32  # the papers' 112/224 px are too slow for a shared 2-core CPU


def train_episodes(name: str, method_name: str, make_episode, device: str, episodes: int = 2) -> None:
    """Train ``episodes`` 3-way 1-shot 1-query episodes as the training engine does (SGD, grad clip 0.5)."""
    torch.manual_seed(0)
    embedder = build_embedder(name)
    method = build_method(method_name, embedder, image_size=SIZE, n_way=3).to(device).train()
    before = {n: p.detach().clone() for n, p in embedder.named_parameters()}
    optimiser = torch.optim.SGD(method.parameters(), lr=0.01)
    for i in range(episodes):
        # noise episodes (signal 0): queries share nothing with their support, so no loss saturates at 0
        episode = make_episode(n_way=3, k_shot=1, n_query=1, size=SIZE, seed=i, signal=0.0).to(device)
        logits, losses = method(episode)
        assert logits.shape == (3, 3)
        assert AUX.get(name, set()) <= set(losses)
        loss = sum(losses.values())
        assert torch.isfinite(loss), (name, method_name, {k: v.item() for k, v in losses.items()})
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(method.parameters(), 0.5)
        optimiser.step()
    changed = [n for n, p in embedder.named_parameters() if not torch.equal(p.detach().cpu(), before[n].cpu())]
    assert changed, f"{name} with {method_name}: no embedder parameter changed"
    first = next(n for n, _ in embedder.named_parameters())
    assert first in changed, f"{name} with {method_name}: the first layer ({first}) did not learn"


@pytest.mark.parametrize("method_name", ["protonet", "crn"])
@pytest.mark.parametrize("name", FER_BACKBONES)
def test_trains_on_the_cpu(name, method_name, make_episode):
    train_episodes(name, method_name, make_episode, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("method_name", ["protonet", "crn"])
@pytest.mark.parametrize("name", FER_BACKBONES)
def test_trains_on_cuda(name, method_name, make_episode):
    train_episodes(name, method_name, make_episode, "cuda", episodes=3)


# --- MAD and MSAD: training mode only, through torch's RNG -----------------------------------------------


def test_mad_drops_one_map_of_chosen_samples_in_training_only():
    maps = torch.rand(2000, 2, 3, 3) + 0.1
    mad = MultiAttentionDropping(p=0.6)
    assert torch.equal(mad.eval()(maps), maps)
    mad.train()
    torch.manual_seed(0)
    out = mad(maps)
    dropped = (out == 0).flatten(2).all(-1)  # [B, n]: whole maps zeroed
    assert dropped.sum(1).max() == 1  # at most one map per sample
    assert abs(dropped.any(1).float().mean().item() - 0.6) < 0.05
    kept = ~dropped
    assert torch.equal(out[kept], maps[kept])
    torch.manual_seed(0)
    assert torch.equal(mad(maps), out)  # replayed from torch's RNG state
    assert torch.equal(MultiAttentionDropping(p=0.0).train()(maps), maps)


def test_msad_drops_one_head_of_chosen_samples_in_training_only():
    torch.manual_seed(0)
    msad = MultiHeadSelfAttentionDropping(32, num_heads=4)
    plain = Attention(32, num_heads=4)
    plain.load_state_dict(msad.state_dict())
    x = torch.randn(500, 5, 32)
    msad.drop_prob = 0.3
    assert torch.allclose(msad.eval()(x), plain.eval()(x), atol=1e-6)  # eval: timm's attention
    msad.train()
    mask = msad.head_mask(4000, x.device, x.dtype).view(4000, 4)
    assert ((mask == 0).sum(1) <= 1).all()
    assert abs((mask == 0).any(1).float().mean().item() - 0.3) < 0.03
    msad.drop_prob = 1.0
    torch.manual_seed(1)
    out = msad(x)
    # the output before the projection has exactly one zeroed head per sample: undo the projection
    pre = torch.linalg.lstsq(msad.proj.weight, (out - msad.proj.bias).reshape(-1, 32).T).solution.T
    zero_heads = (pre.view(500, 5, 4, 8).abs() < 1e-4).all(-1).all(1)  # [B, heads]
    assert (zero_heads.sum(1) == 1).all()
    torch.manual_seed(1)
    assert torch.equal(msad(x), out)


def test_transfer_is_deterministic_in_eval_and_seeded_in_training():
    torch.manual_seed(0)
    transfer = build_embedder("transfer", depth=2, p1=0.6, p2=0.3)
    x = torch.randn(4, 3, 32, 32)
    transfer.eval()
    with torch.no_grad():
        assert torch.equal(transfer(x), transfer(x))
    transfer.train()
    state = {k: v.clone() for k, v in transfer.state_dict().items()}
    with torch.no_grad():
        torch.manual_seed(5)
        first = transfer(x)
        transfer.load_state_dict(state)  # BN running stats back
        torch.manual_seed(5)
        again = transfer(x)
        transfer.load_state_dict(state)
        torch.manual_seed(6)
        other = transfer(x)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
