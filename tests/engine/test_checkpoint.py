"""Checkpoints: atomic writes, weights_only loading, files that are not checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fsfer.engine import checkpoint as ckpt_mod
from fsfer.engine.checkpoint import load_checkpoint, save_checkpoint
from fsfer.errors import ModelError


def test_round_trip_with_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "episode": 3, "config": {"n_way": 5}})
    data = load_checkpoint(path)
    assert data["episode"] == 3 and torch.equal(data["model"]["w"], torch.ones(2))
    # it really is loadable with weights_only=True, by anyone
    assert torch.load(path, weights_only=True)["format"] == "fsfer-checkpoint"


def test_a_kill_during_the_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"episode": 1})

    def dying_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"episode": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["episode"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_not_a_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    with pytest.raises(ModelError, match="junk.pt: not an fsfer checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ModelError, match="other.pt: not an fsfer checkpoint"):
        load_checkpoint(other)
    with pytest.raises(ModelError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.pt")
