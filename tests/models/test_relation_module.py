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
