"""CPU tensors in anonymous memory advised for transparent huge pages.

Gathering an episode reads ~100 random image rows of ~21 KB each from a store of
hundreds of MB: with 4 KB pages every row costs several TLB misses. Backing the store
with 2 MB pages (Linux ``madvise(MADV_HUGEPAGE)``) removes most of them; on the
2-core benchmark machine this gave 3-14% more episodes/s, about 8% typically
(``benchmarks/sampler_speed.py``). Elsewhere, or for small tensors, a plain tensor.
"""

from __future__ import annotations

import math
import mmap

import torch

#: the transparent huge page size on x86-64 and most arm64 kernels
HUGE_PAGE = 2 << 20


def hugepages_supported() -> bool:
    """Whether this platform can advise anonymous memory for transparent huge pages."""
    return all(hasattr(mmap, name) for name in ("MADV_HUGEPAGE", "MAP_PRIVATE", "MAP_ANONYMOUS"))


def empty_hugepages(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """An uninitialised CPU tensor of ``shape``, 2 MB aligned and advised ``MADV_HUGEPAGE``.

    The tensor keeps its private anonymous mapping alive; the kernel backs it with huge
    pages when it can (``/sys/kernel/mm/transparent_hugepage/enabled`` is ``always`` or
    ``madvise``). Falls back to ``torch.empty`` where that is not supported or the
    tensor is smaller than one huge page.
    """
    nbytes = math.prod(shape) * dtype.itemsize
    if not hugepages_supported() or nbytes < HUGE_PAGE:
        return torch.empty(shape, dtype=dtype)
    region = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(mmap.MADV_HUGEPAGE)
    address = torch.frombuffer(region, dtype=torch.uint8, count=1).data_ptr()
    offset = -address % HUGE_PAGE
    return torch.frombuffer(region, dtype=torch.uint8, count=nbytes, offset=offset).view(dtype).view(shape)
