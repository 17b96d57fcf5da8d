"""The relation module: the paper's sizes, other map sizes, pair order."""

from __future__ import annotations

import pytest
import torch

from fsfer.errors import ModelError
from fsfer.models.methods.relation_module import RelationModule


@pytest.mark.parametrize(
    "channels, size, padded, flat",
    [(64, 14, False, 64 * 2 * 2), (64, 19, False, 64 * 3 * 3), (640, 5, True, 64 * 2 * 2), (16, 1, True, 64), (8, 10, False, 64)],
)
def test_sizes(channels, size, padded, flat):
    torch.manual_seed(0)
    module = RelationModule(channels, (size, size))
    assert module.padded is padded
    assert module.block1[0].in_channels == 2 * channels
    assert module.fc1.in_features == flat and module.fc1.out_features == 8 and module.fc2.out_features == 1
    scores = module(torch.randn(3, channels, size, size), torch.randn(4, channels, size, size))
    assert scores.shape == (4, 3)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_score_j_i_is_class_i_against_query_j():
    torch.manual_seed(0)
    module = RelationModule(4, (6, 6)).eval()
    class_maps, query_maps = torch.randn(3, 4, 6, 6), torch.randn(2, 4, 6, 6)
    scores = module(class_maps, query_maps)
    for j in range(2):
        for i in range(3):
            pair = torch.cat([class_maps[i], query_maps[j]]).unsqueeze(0)
            assert torch.allclose(scores[j, i], module.pair_scores(pair)[0], atol=1e-6)


def test_wrong_map_size_is_refused():
    module = RelationModule(4, (6, 6))
    with pytest.raises(ModelError, match="built for 4x6x6 maps.*4x7x7.*image_size"):
        module(torch.randn(2, 4, 7, 7), torch.randn(2, 4, 7, 7))


def test_split_first_convolution_equals_convolving_every_concatenation() -> None:
    """forward() convolves class and query maps once each; pair_scores() the concatenations: same scores."""
    import torch

    from fsfer.models.methods.relation_module import RelationModule

    torch.manual_seed(0)
    for size in (14, 5):  # unpadded and padded variants
        module = RelationModule(8, (size, size)).train()
        classes, queries = torch.randn(3, 8, size, size), torch.randn(4, 8, size, size)
        pairs = torch.cat(
            [classes.unsqueeze(0).expand(4, -1, -1, -1, -1), queries.unsqueeze(1).expand(-1, 3, -1, -1, -1)], dim=2
        ).flatten(0, 1)
        expected = module.pair_scores(pairs).view(4, 3)
        assert torch.allclose(module(classes, queries), expected, atol=1e-5)
        module.eval()
        assert torch.allclose(module(classes, queries), module.pair_scores(pairs).view(4, 3), atol=1e-5)


def test_initialisation_follows_the_released_relationnet_code() -> None:
    import math

    torch.manual_seed(0)
    module = RelationModule(64, (14, 14))
    for fc in (module.fc1, module.fc2):
        assert torch.equal(fc.bias, torch.ones_like(fc.bias))
    assert abs(float(module.fc1.weight.detach().std()) - 0.01) < 0.001  # 2,048 weights
    conv = module.block1[0]
    assert abs(float(conv.weight.detach().std()) - math.sqrt(2 / (3 * 3 * 64))) < 0.005
    # every hidden unit starts active, so no pair of maps starts with the same constant score
    scores = module(torch.randn(5, 64, 14, 14), torch.randn(7, 64, 14, 14))
    hidden = module.fc1(module.block2(module.block1(torch.randn(4, 128, 14, 14))).flatten(1))
    assert (hidden > 0).all() and scores.shape == (7, 5)
