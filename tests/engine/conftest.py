"""Tiny training runs on a small SynthFER, for the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsfer.engine.config import RunConfig

TINY_DATA = "synth?subjects=16,per_subject=1,size=32"


@pytest.fixture
def tiny_config(tmp_path: Path) -> RunConfig:
    return RunConfig(
        data=[TINY_DATA], method="protonet", backbone="conv4-pool", n_way=3, k_shot=1, q_query=2,
        episodes=6, image_size=32, val_every=3, val_episodes=4, save_every=3, test_episodes=5,
        test_query=2, device="cpu", out=str(tmp_path / "run"),
    )
