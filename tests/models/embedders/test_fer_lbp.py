"""LBP: the batched per-channel operator equal to a hand-computed 3x3 case, on any device."""

from __future__ import annotations

import pytest
import torch

from fsfer.transforms import Normalise, lbp

CASE = [[6, 5, 2], [7, 6, 1], [9, 8, 7]]


def test_lbp_of_a_hand_computed_3x3_case():
    codes = lbp(torch.tensor(CASE, dtype=torch.float32).view(1, 1, 3, 3))
    # centre 6, neighbours clockwise from the top-left: 6 5 2 1 7 8 9 7 -> >= 6: 1 0 0 0 1 1 1 1 = 143
    assert codes[0, 0, 1, 1].item() == 143
    # top-left pixel 6 with replicated borders: TL 6, T 6, TR 5, R 5, BR 6, B 7, BL 7, L 6 -> 11001111 = 207
    assert codes[0, 0, 0, 0].item() == 207
    assert codes.shape == (1, 1, 3, 3) and codes.min() >= 0 and codes.max() <= 255


def test_lbp_acts_per_channel_and_per_image_in_one_batch():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 9, 7), generator=g, dtype=torch.uint8)
    codes = lbp(images)
    assert codes.shape == images.shape and codes.dtype == torch.float32
    assert torch.equal(codes[2, 1:2], lbp(images[2:3, 1:2])[0])
    flat = torch.tensor([[5] * 3] * 3, dtype=torch.uint8).view(1, 1, 3, 3)
    assert (lbp(flat) == 255).all()  # every neighbour >= the centre


def test_lbp_is_unchanged_by_normalisation():
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (2, 3, 8, 8), generator=g, dtype=torch.uint8)
    normalised = Normalise(mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.25))(images)
    assert torch.equal(lbp(images), lbp(normalised))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_lbp_on_the_gpu_equals_the_cpu():
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    on_gpu = lbp(images.cuda())
    assert on_gpu.is_cuda and torch.equal(on_gpu.cpu(), lbp(images))
