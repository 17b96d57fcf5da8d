"""Episodic training: files of a run, exact resume on the CPU, refusing another run's folder, NaN stops."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch

import fsfer
from fsfer.engine import train as train_mod
from fsfer.engine.checkpoint import load_checkpoint
from fsfer.engine.config import RunConfig, load_config
from fsfer.engine.train import train
from fsfer.errors import ConfigError, TrainingError


def _metrics(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_a_run_writes_its_files(tiny_config: RunConfig) -> None:
    result = train(tiny_config)
    out = result.out
    for name in ("config.toml", "metrics.csv", "last.pt", "best.pt", "val_episodes.csv", "test_episodes.csv", "results.json"):
        assert (out / name).is_file(), name
    rows = _metrics(out / "metrics.csv")
    assert [r["episode"] for r in rows if r["phase"] == "train"] == [str(i) for i in range(1, 7)]
    assert [r["episode"] for r in rows if r["phase"] == "val"] == ["3", "6"]
    assert "loss_cross_entropy" in rows[0]
    results = json.loads((out / "results.json").read_text())
    assert results["episodes"] == 5 and results["n_way"] == 3 and 0 <= results["accuracy"] <= 1
    assert set(results["per_class"]) <= set(load_checkpoint(out / "best.pt")["classes"])
    # the run can be repeated exactly: the saved config is the given one with its episode shape and
    # subject handling resolved (SynthFER knows every subject, so episodes were subject-disjoint)
    resolved = dataclasses.replace(tiny_config.with_setting({"test_query": 15}), disjoint_subjects=True)
    assert load_config(out / "config.toml") == resolved
    assert results["disjoint_subjects"] is True and results["seed"] == tiny_config.seed
    assert results["fsfer_version"] == fsfer.__version__ and results["torch_version"] == torch.__version__
    assert results["test_episodes_file"] == str(out / "test_episodes.csv") and results["wall_seconds"] > 0
    assert load_checkpoint(out / "last.pt")["episode"] == 6


@pytest.mark.parametrize("killed_after", [3, 4])
def test_stop_and_resume_equals_straight_run(tiny_config: RunConfig, tmp_path: Path, killed_after: int) -> None:
    straight = train(dataclasses.replace(tiny_config, out=str(tmp_path / "a")))
    broken_cfg = dataclasses.replace(tiny_config, out=str(tmp_path / "b"))
    train(broken_cfg, stop_after=killed_after)  # as if killed: last.pt is from episode 3
    assert load_checkpoint(tmp_path / "b" / "last.pt")["episode"] == 3
    resumed = train(broken_cfg, resume=True)
    a = load_checkpoint(straight.out / "last.pt")["model"]
    b = load_checkpoint(resumed.out / "last.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics(straight.out / "metrics.csv") == _metrics(resumed.out / "metrics.csv")
    ra, rb = (json.loads((r.out / "results.json").read_text()) for r in (straight, resumed))
    assert ra.pop("checkpoint") != rb.pop("checkpoint") and ra.pop("test_episodes_file") != rb.pop("test_episodes_file")
    for timing in ("wall_seconds", "train_episodes_per_second"):
        ra.pop(timing), rb.pop(timing)
    assert ra == rb


def test_folder_of_another_run_is_refused_and_untouched(tiny_config: RunConfig) -> None:
    train(tiny_config)
    out = Path(tiny_config.out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ConfigError, match="holds another run.*--resume.*--force"):
        train(tiny_config)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(dataclasses.replace(tiny_config, out=str(out.parent / "new")), resume=True)
    assert not (out.parent / "new").exists()
    train(tiny_config, force=True)


def test_bad_protocol_data_writes_nothing(tiny_config: RunConfig) -> None:
    cfg = dataclasses.replace(tiny_config, protocol="crn-rafdb")
    with pytest.raises(ConfigError, match="needs rafdb data"):
        train(cfg)
    assert not Path(cfg.out).exists()


def test_nan_loss_stops_naming_the_episode_and_keeps_last_good_checkpoint(
    tiny_config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = train_mod.build_model

    def poisoned(cfg):
        model = real_build(cfg)
        original = model.episode_forward
        calls = {"n": 0}

        def forward(episode):
            calls["n"] += 1
            logits, losses = original(episode)
            if calls["n"] == 5:
                losses = {k: v * float("nan") for k, v in losses.items()}
            return logits, losses

        model.episode_forward = forward
        return model

    monkeypatch.setattr(train_mod, "build_model", poisoned)
    with pytest.raises(TrainingError, match="episode 5: the loss is nan"):
        train(tiny_config)
    kept = load_checkpoint(Path(tiny_config.out) / "last.pt")
    assert kept["episode"] == 3
    assert all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())
