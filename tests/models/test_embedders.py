"""Embedder output shapes, the registry's names and errors."""

from __future__ import annotations

import pytest
import torch

from fsfer.errors import ConfigError, ModelError
from fsfer.models import all_embedders, build_embedder
from fsfer.models.embedders import Conv4, ResNet12


@pytest.mark.parametrize(
    "name, size, shape",
    [
        ("conv4", 64, (64, 14, 14)),
        ("conv4", 84, (64, 19, 19)),
        ("conv4-pool", 84, (64, 5, 5)),
        ("resnet12", 84, (640, 5, 5)),
        ("resnet12", 16, (640, 1, 1)),
    ],
)
def test_output_shapes(name, size, shape):
    torch.manual_seed(0)
    embedder = build_embedder(name).eval()
    with torch.no_grad():
        out = embedder(torch.randn(1, 3, size, size))
    assert tuple(out.shape) == (1, *shape)
    assert embedder.out_channels == shape[0]


def test_conv4_layouts():
    relation = build_embedder("conv4")
    proto = build_embedder("conv4-pool")
    assert isinstance(relation, Conv4) and not relation.pool_every_block
    assert isinstance(proto, Conv4) and proto.pool_every_block
    # the cfg flag gives the same layout as the name
    assert build_embedder("conv4", pool_every_block=True).pool_every_block
    pads = [block[0].padding for block in relation.blocks]
    pools = [isinstance(block[-1], torch.nn.MaxPool2d) for block in relation.blocks]
    assert pads == [(0, 0), (0, 0), (1, 1), (1, 1)] and pools == [True, True, False, False]
    assert [block[0].padding for block in proto.blocks] == [(1, 1)] * 4
    assert all(isinstance(block[-1], torch.nn.MaxPool2d) for block in proto.blocks)


def test_resnet12_blocks_and_narrow_widths():
    net = build_embedder("resnet12", channels=(8, 16, 32, 64))
    assert isinstance(net, ResNet12) and net.out_channels == 64
    assert [b.conv1.out_channels for b in net.blocks] == [8, 16, 32, 64]
    assert all(b.shortcut[0].kernel_size == (1, 1) for b in net.blocks)
    assert all(b.act.negative_slope == 0.1 for b in net.blocks)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 64, 2, 2)
    assert [b.conv1.out_channels for b in build_embedder("resnet12").blocks] == [64, 160, 320, 640]


@pytest.mark.parametrize("name", ["conv4", "conv4-pool", "resnet12"])
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    cfg = {"channels": (4, 8, 8, 8)} if name == "resnet12" else {"hidden": 8}
    embedder = build_embedder(name, **cfg)
    embedder(torch.randn(2, 3, 32, 32)).pow(2).mean().backward()
    for pname, p in embedder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_registry_names():
    assert {"conv4", "conv4-pool", "resnet12"} <= set(all_embedders())


def test_unknown_embedder_lists_known_ones():
    with pytest.raises(ModelError, match="unknown embedder 'vgg'.*conv4.*resnet12"):
        build_embedder("vgg")


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="no option.*widht.*hidden"):
        build_embedder("conv4", widht=3)
