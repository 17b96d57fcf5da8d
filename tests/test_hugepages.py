"""Huge-page backed tensors: aligned, private, correct, with a plain fallback."""

from __future__ import annotations

import pytest
import torch

from fsfer.hugepages import HUGE_PAGE, empty_hugepages, hugepages_supported


@pytest.mark.skipif(not hugepages_supported(), reason="no MADV_HUGEPAGE on this platform")
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_large_tensor_is_aligned_to_a_huge_page_and_holds_values(dtype: torch.dtype) -> None:
    t = empty_hugepages((3, HUGE_PAGE // 2 + 5), dtype)
    assert t.shape == (3, HUGE_PAGE // 2 + 5) and t.dtype == dtype and t.is_contiguous()
    assert t.data_ptr() % HUGE_PAGE == 0
    t.copy_(torch.arange(t.numel()).view(t.shape).to(dtype))
    assert t[2, -1].item() == pytest.approx(float(torch.tensor(t.numel() - 1).to(dtype)))


def test_small_tensor_is_a_plain_tensor() -> None:
    t = empty_hugepages((4, 4), torch.float32)
    assert t.shape == (4, 4) and t.dtype == torch.float32
    t.fill_(2.0)
    assert t.sum().item() == 32.0
