"""RunConfig: TOML files, command-line overrides, unknown keys and wrong types, the saved config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fsfer.engine.config import RunConfig, config_from_dict, load_config
from fsfer.errors import ConfigError


def test_file_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "run.toml"
    f.write_text('method = "protonet"\nn_way = 3\nlr = 1\n[method_options]\npooled = true\n')
    cfg = load_config(f)
    assert (cfg.method, cfg.n_way, cfg.lr, cfg.method_options) == ("protonet", 3, 1.0, {"pooled": True})
    cfg = config_from_dict({"n_way": 4}, "command line", base=cfg)
    assert (cfg.method, cfg.n_way) == ("protonet", 4)


def test_saved_toml_reads_back_identical() -> None:
    cfg = RunConfig(data=["synth:lab"], method_options={"lambda_dist": 0.7}, amp=True, lr=3e-4)
    path_text = cfg.to_toml()
    assert config_from_dict(tomllib.loads(path_text), "x") == cfg


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour = 3\n", "run.toml: unknown key 'colour'"),
        ('n_way = "five"\n', "run.toml: n_way must be an integer; got 'five'"),
        ("amp = 1\n", "amp must be true or false"),
        ("lr = [1]\n", "lr must be a number"),
        ("n_way = \n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "run.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(f)


def test_validate_refuses_bad_values() -> None:
    with pytest.raises(ConfigError, match="n_way must be at least 1"):
        RunConfig(n_way=0).validate()
    with pytest.raises(ConfigError, match="optimizer must be one of adam, sgd"):
        RunConfig(optimizer="lbfgs").validate()
    with pytest.raises(ConfigError, match="base_classes and novel_classes go together"):
        RunConfig(base_classes=["happiness"]).validate()
