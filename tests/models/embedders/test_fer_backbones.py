"""The FER papers' backbones: output shapes, their paper blocks as submodules, sizes against the papers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fsfer.errors import ModelError
from fsfer.models import all_embedders, build_embedder
from fsfer.models.embedders.attention import MultiHeadSelfAttentionDropping
from fsfer.models.embedders.dacl import ContextEncoder, MultiHeadBinaryClassifier
from fsfer.models.embedders.dan import (
    AttentionFusion,
    ChannelAttention,
    CrossAttentionHead,
    DANClassifier,
    SpatialAttention,
)
from fsfer.models.embedders.irse import BottleneckIR
from fsfer.models.embedders.profile import build_on_meta, count_macs, count_parameters
from fsfer.models.embedders.transfer import LANet, MultiAttentionDropping, TransFERClassifier
from fsfer.models.embedders.vtff import AttentionalSelectiveFusion

FER_BACKBONES = ("resnet18", "irse50", "dan", "dacl", "vtff", "transfer")


def within(value: float, target: float, rel: float = 0.005) -> bool:
    return abs(value - target) <= rel * target


def test_registered():
    assert set(FER_BACKBONES) <= set(all_embedders())


@pytest.mark.parametrize(
    "name, size, shape",
    [
        ("resnet18", 224, (512, 7, 7)),
        ("irse50", 112, (512, 7, 7)),
        ("dan", 224, (512, 1, 1)),
        ("dacl", 224, (512, 7, 7)),
        ("vtff", 224, (768, 1, 1)),
        ("transfer", 112, (768, 1, 1)),
        ("resnet18", 32, (512, 1, 1)),
        ("irse50", 32, (512, 2, 2)),
        ("dacl", 48, (512, 2, 2)),
        ("vtff", 32, (768, 1, 1)),
        ("transfer", 32, (768, 1, 1)),
    ],
)
def test_output_shapes(name, size, shape):
    torch.manual_seed(0)
    embedder = build_embedder(name).eval()
    with torch.no_grad():
        out = embedder(torch.randn(1, 3, size, size))
    assert tuple(out.shape) == (1, *shape) and torch.isfinite(out).all()
    assert embedder.out_channels == shape[0]


def test_dan_blocks_follow_the_paper():
    dan = build_embedder("dan")
    assert len(dan.man.heads) == 4 and isinstance(dan.afn, AttentionFusion)
    head = dan.man.heads[0]
    assert isinstance(head, CrossAttentionHead)
    assert isinstance(head.sa, SpatialAttention) and isinstance(head.ca, ChannelAttention)
    assert head.sa.conv1x1[0].kernel_size == (1, 1) and head.sa.conv1x1[0].out_channels == 256
    kernels = [head.sa.conv_3x3[0].kernel_size, head.sa.conv_1x3[0].kernel_size, head.sa.conv_3x1[0].kernel_size]
    assert kernels == [(3, 3), (1, 3), (3, 1)]
    assert [m.out_features for m in head.ca.attention if isinstance(m, nn.Linear)] == [32, 512]
    assert dan.man.heads[0] is not dan.man.heads[1]
    assert dan.affinity.centers.shape == (8, 512) and dan.affinity.centers.requires_grad
    assert build_embedder("dan", num_heads=2, num_classes=11).affinity.centers.shape == (11, 512)


def test_dan_fused_vector_is_the_sum_of_log_softmaxed_heads():
    torch.manual_seed(0)
    dan = build_embedder("dan").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        heads = torch.stack([h(dan.fcn(x)) for h in dan.man.heads], dim=1)
        expected = torch.log_softmax(heads, dim=1).sum(dim=1)
        assert torch.allclose(dan(x).flatten(1), expected, atol=1e-4)


def test_dacl_blocks_and_context_at_other_sizes():
    dacl = build_embedder("dacl", hidden=(32, 16, 8))
    assert isinstance(dacl.attention.context, ContextEncoder)
    assert isinstance(dacl.attention.mhbc, MultiHeadBinaryClassifier)
    first = dacl.attention.context.layers[0]
    assert first.in_features == 512 * 7 * 7  # pooled to 7x7 whatever the input size
    assert isinstance(dacl.attention.context.layers[-1], nn.Tanh)
    assert "centers" in dict(dacl.named_buffers()) or "sparse_center.centers" in dict(dacl.named_buffers())
    assert all("centers" not in n for n, _ in dacl.named_parameters())
    for size in (32, 96):
        maps = torch.randn(3, 512, size // 32, size // 32)
        a = dacl.attention(maps)
        assert a.shape == (3, 512) and ((a > 0) & (a < 1)).all()


def test_vtff_blocks_and_options():
    vtff = build_on_meta("vtff")
    assert isinstance(vtff.fusion, AttentionalSelectiveFusion)
    assert vtff.fusion.global_attention.layers[1].out_channels == 64  # r = 8
    assert vtff.fusion.local_attention.layers[3].out_channels == 1
    assert vtff.rgb_branch is not vtff.lbp_branch
    assert len(vtff.encoder.blocks) == 8 and vtff.encoder.blocks[0].attn.num_heads == 8
    assert vtff.encoder.pos_embed.shape == (1, 50, 768)
    small = build_on_meta("vtff", depth=2, num_heads=4, reduction=16, embed_dim=64, mlp_ratio=2.0)
    assert len(small.encoder.blocks) == 2 and small.encoder.blocks[0].attn.num_heads == 4
    assert small.fusion.global_attention.layers[1].out_channels == 32
    assert small.encoder.blocks[0].mlp.fc1.out_features == 128 and small.out_channels == 64


def test_vtff_fusion_is_a_convex_mix_of_the_branches():
    torch.manual_seed(0)
    asf = AttentionalSelectiveFusion(16, 4).eval()
    x_rgb, x_lbp = torch.randn(2, 16, 3, 3), torch.randn(2, 16, 3, 3)
    m = asf.weights(x_rgb, x_lbp)
    assert m.shape == (2, 16, 3, 3) and ((m > 0) & (m < 1)).all()
    assert torch.allclose(asf(x_rgb, x_lbp), m * x_lbp + (1 - m) * x_rgb)


def test_transfer_blocks_follow_the_paper():
    transfer = build_on_meta("transfer")
    assert len(transfer.stem.body) == 3 + 4 + 14 and transfer.stem.out_channels == 256
    assert all(isinstance(u, BottleneckIR) for u in transfer.stem.body)
    assert len(transfer.local_cnns.lanets) == 2 and all(isinstance(n, LANet) for n in transfer.local_cnns.lanets)
    assert transfer.local_cnns.lanets[0].layers[0].out_channels == 16
    assert isinstance(transfer.local_cnns.mad, MultiAttentionDropping) and transfer.local_cnns.mad.p == 0.6
    assert transfer.projection.kernel_size == (1, 1) and transfer.projection.out_channels == 768
    blocks = transfer.vit.blocks
    assert len(blocks) == 8
    attn = blocks[0].attn
    assert isinstance(attn, MultiHeadSelfAttentionDropping)
    assert attn.num_heads == 8 and attn.head_dim == 96 and attn.qkv.bias is None and attn.drop_prob == 0.3
    assert blocks[0].mlp.fc1.out_features == 2304 and blocks[0].norm1.eps == 1e-6
    assert transfer.vit.pos_embed.shape == (1, 197, 768)


def test_irse50_layout_and_se_option():
    ir = build_on_meta("irse50")
    assert len(ir.body) == 24
    strides = [u.res_layer[3].stride for u in ir.body]
    assert [i for i, s in enumerate(strides) if s == (2, 2)] == [0, 3, 7, 21]
    assert isinstance(ir.body[0].shortcut_layer, nn.MaxPool2d)  # 64 -> 64: no conv
    assert isinstance(ir.body[3].shortcut_layer, nn.Sequential)
    assert count_parameters(build_on_meta("irse50", se=True)) > count_parameters(ir)


# --- sizes against the papers (counted on the meta device: no memory, no init) --------------------------


def test_resnet18_and_irse50_sizes():
    assert count_parameters(build_on_meta("resnet18")) == 11_176_512
    assert within(count_parameters(build_on_meta("irse50")), 30.73e6)
    assert within(count_macs(build_on_meta("resnet18"), 224, "meta")[0], 1.81e9)
    assert within(count_macs(build_on_meta("irse50"), 112, "meta")[0], 6.28e9)


def test_dan_parameters_match_the_paper():
    # counted: ResNet-18 trunk + 4 cross-attention heads + AFN's Linear 512->7 + BatchNorm1d(7),
    # the paper's 7-class classifier; NOT the 8 x 512 affinity centres (a loss parameter).
    with torch.device("meta"):
        classifier = DANClassifier(num_classes=7)
    assert classifier.paper_parameters() == 19_723_733
    assert within(classifier.paper_parameters(), 19.72e6)
    assert count_parameters(classifier) == 19_723_733 + 8 * 512  # with the centres: still within 0.5%
    assert within(count_macs(build_on_meta("dan"), 224, "meta")[0], 2.23e9)


def test_transfer_parameters_match_the_paper():
    # counted: IR-50 stages 1-3 + 2 LANets + 1x1 projection + ViT-FER (class token, 197 position
    # embeddings, 8 blocks, final LayerNorm) + the 7-class Linear 768->7 head.
    with torch.device("meta"):
        classifier = TransFERClassifier(num_classes=7)
    assert count_parameters(classifier) == 65_217_869
    assert within(count_parameters(classifier), 65.2e6)
    # MACs: 15.3G by a count of the official code (the cited 15.73G was not reproduced)
    assert within(count_macs(build_on_meta("transfer"), 112, "meta")[0], 15.3e9)


def test_dacl_and_vtff_sizes():
    dacl = build_on_meta("dacl")
    assert count_parameters(dacl.attention) == 91_862_208  # CE unit + 512 binary heads (paper code: 91.86M)
    assert within(count_parameters(dacl) + 512 * 7 + 7, 103.0e6)  # + the paper's fc: the training graph
    assert count_parameters(dacl.trunk) == 11_176_512  # what is deployed
    assert within(count_parameters(build_on_meta("vtff")), 70.7e6)  # unverified, the APViT port's config


def test_bad_options_are_model_errors():
    with pytest.raises(ModelError, match="num_heads"):
        build_embedder("dan", num_heads=0)
    with pytest.raises(ModelError, match="MAD"):
        build_on_meta("transfer", p1=1.5)
    with pytest.raises(ModelError, match="reduction"):
        build_on_meta("vtff", reduction=0)


def test_vtff_lbp_branch_sees_the_scaled_lbp_of_the_input():
    from fsfer.transforms import lbp

    torch.manual_seed(0)
    vtff = build_embedder("vtff", depth=1, embed_dim=32, num_heads=2).eval()
    seen = {}
    vtff.lbp_branch.register_forward_pre_hook(lambda module, args: seen.setdefault("lbp", args[0]))
    vtff.rgb_branch.register_forward_pre_hook(lambda module, args: seen.setdefault("rgb", args[0]))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        vtff(x)
    assert torch.equal(seen["rgb"], x)
    assert torch.equal(seen["lbp"], lbp(x) / 127.5 - 1)
    assert seen["lbp"].min() >= -1 and seen["lbp"].max() <= 1


def test_macs_count_attention_matmuls_on_the_cpu_as_on_meta():
    torch.manual_seed(0)
    cfg = {"depth": 1, "embed_dim": 32, "num_heads": 2}
    on_cpu, by_op, shape = count_macs(build_embedder("transfer", **cfg), 32)
    on_meta, _, _ = count_macs(build_on_meta("transfer", **cfg), 32, "meta")
    assert on_cpu == on_meta and by_op["bmm"] == 2 * 17 * 17 * 32  # Q K^T and A V over 1 + 16 tokens
    assert shape == (32, 1, 1)
