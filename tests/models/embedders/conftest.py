"""Shared fixtures of the FER backbone tests: one CPU thread (the machine is shared), tiny episodes."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Run each test on one intra-op thread (much faster than two contended ones), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

