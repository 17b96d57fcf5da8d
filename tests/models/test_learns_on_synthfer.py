"""On SynthFER, protonet and crn trained on the basic classes beat chance on compound-class episodes.

A modest threshold: 5-way 1-shot chance is 20%; a few hundred tiny episodes reach
about 30-35% on the 15 unseen compound classes of unseen subjects. The real numbers
belong in the benchmarks (benchmarks/compare_metrics.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fsfer.engine.config import RunConfig
from fsfer.engine.train import train


@pytest.mark.parametrize("method, backbone", [("protonet", "conv4-pool"), ("crn", "conv4")])
def test_basic_to_compound_beats_chance(method: str, backbone: str, tmp_path: Path) -> None:
    cfg = RunConfig(
        data=["synth?subjects=16,per_subject=2"], protocol="synth-basic-to-compound", method=method,
        backbone=backbone, n_way=5, k_shot=1, q_query=4, episodes=300, image_size=32, val_every=1000,
        val_episodes=20, save_every=1000, test_episodes=100, test_query=4, device="cpu", out=str(tmp_path / method),
    )
    result = train(cfg)
    assert result.test is not None and result.test.n_way == 5
    assert set(result.test.per_class) <= {
        "happily_surprised", "happily_disgusted", "sadly_fearful", "sadly_angry", "sadly_surprised",
        "sadly_disgusted", "fearfully_angry", "fearfully_surprised", "fearfully_disgusted", "angrily_surprised",
        "disgustedly_surprised", "angrily_disgusted", "appalled", "hatred", "awed",
    }
    assert result.test.accuracy - 2 * result.test.ci95 > 0.22  # chance is 0.20
