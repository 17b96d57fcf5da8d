"""Compound expressions composed from basic ones, zero-shot: weights, the hand-made case, SynthFER, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import fsfer
from fsfer.cli import run
from fsfer.engine.compose import evaluate_composed
from fsfer.engine.predict import load_model
from fsfer.engine.pretrain import pretrain, pretrain_config
from fsfer.episodes.sampler import EpisodeSampler
from fsfer.errors import ConfigError
from fsfer.models.methods.compose import COMPONENTS, composition_weights
from fsfer.models.registry import build_method
from fsfer.protocol_data import load_protocol_data
from fsfer.protocols import load_protocol
from fsfer.transforms import Normalise

BASIC = ["happiness", "sadness", "fear", "anger", "surprise", "disgust"]
#: compounds whose two components differ pairwise (appalled, hatred and angrily_disgusted share theirs)
DISTINCT = ["happily_surprised", "sadly_fearful", "fearfully_angry", "disgustedly_surprised", "happily_disgusted"]
DATA = "synth?subjects=30,per_subject=2,size=32"


class Identity(nn.Module):
    out_channels = 6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_weights_mean_and_by_shared_action_units() -> None:
    mean = composition_weights(["happily_surprised"], BASIC)
    assert mean.tolist() == [[0.5, 0, 0, 0, 0.5, 0]]
    # Du et al.: happily surprised uses AUs 1 2 5 12 25 26; happiness 6 12 25 (shares 12, 25);
    # surprise 1 2 5 25 26 (shares all five): weights 2/7 and 5/7
    au = composition_weights(["happily_surprised"], BASIC, "au")
    assert torch.allclose(au, torch.tensor([[2 / 7, 0, 0, 0, 5 / 7, 0]]))
    assert set(COMPONENTS) == set(fsfer.emotions.COMPOUND)
    with pytest.raises(ConfigError, match="'anger' is not a compound expression with known components"):
        composition_weights(["anger"], BASIC)


@pytest.mark.parametrize("method", ["protonet", "cosine", "simpleshot", "matching"])
def test_compounds_that_are_the_mean_of_their_parts_are_recognised_every_time(method: str) -> None:
    """A hand-made feature space: six orthonormal basic directions; each compound query is exactly the mean of
    its two components' features. Composed prototypes find every query."""
    basis = torch.eye(6)
    support = torch.stack([basis[i] for i in range(6) for _ in range(2)]).view(12, 6, 1, 1)
    labels = [b for b in BASIC for _ in range(2)]
    queries = torch.stack([(basis[BASIC.index(a)] + basis[BASIC.index(b)]) / 2
                           for c in DISTINCT for a, b in [COMPONENTS[c]]]).view(len(DISTINCT), 6, 1, 1)
    model = build_method(method, Identity()).eval()
    if method == "simpleshot":
        model.set_base_mean(torch.zeros(6))
    fsfer.compose_prototypes(model, support, labels, DISTINCT)
    assert model.predict(queries).argmax(dim=1).tolist() == list(range(len(DISTINCT)))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compose") / "pre"
    pretrain(pretrain_config(data=[DATA], image_size=32, epochs=6, batch_size=32, test_way=5, test_query=2,
                             val_every=100, val_episodes=2, test_episodes=2, allow_small=True, device="cpu", out=str(out)))
    return out / "best.pt"


def test_composition_beats_chance_on_synthfer(pretrained: Path) -> None:
    """100 subject-disjoint 5-way episodes over SynthFER's compound classes, support replaced by one image of each
    basic component from the training subjects: measured 30.0% (chance 20%; one real compound shot: 25.4%)."""
    pdata = load_protocol_data(load_protocol("synth-basic-to-compound"), [DATA], 32)
    sampler = EpisodeSampler(pdata.store, pdata.classes("novel"), 5, 1, 5, 0, episodes=100,
                             indices=pdata.rows["novel"], allow_small=True)
    episodes = [sampler.index(i) for i in range(100)]
    model, _ = load_model(pretrained, "cpu", "protonet")
    composed = evaluate_composed(model, pdata.store, episodes, pdata.rows["base"], transform=Normalise())
    assert composed.accuracy >= 0.25 and composed.episodes == 100 and composed.k_shot == 1
    again = evaluate_composed(model, pdata.store, episodes, pdata.rows["base"], transform=Normalise())
    assert again.accuracy == composed.accuracy  # the basic support is seeded


def test_evaluate_compose_json_and_bad_input(pretrained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["evaluate", str(pretrained), "--compose", "--method", "protonet", "--episodes", "10", "--n-way", "5",
                "--k-shot", "1", "--q-query", "2", "--allow-small", "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["compose"] is True and out["compose_weights"] == "mean" and out["episodes"] == 10
    assert set(out["ordinary"]) == {"accuracy", "ci95", "k_shot"}
    protocol = tmp_path / "basic.toml"
    protocol.write_text('name = "basic"\ndefault_data = ["synth"]\n[base]\nclasses = ["happiness", "sadness"]\n'
                        '[val]\nclasses = ["happiness", "sadness"]\nsplits = ["val"]\n'
                        '[novel]\nclasses = ["anger", "fear", "disgust"]\n')
    assert run(["evaluate", str(pretrained), "--compose", "--protocol", str(protocol), "--episodes", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a compound expression with known components" in err[0]
    assert run(["evaluate", str(pretrained), "--compose", "--method", "maml", "--episodes", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--compose needs a metric method" in err[0]
