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


def test_the_protocols_literature_setting_fills_what_is_not_given(tmp_path: Path) -> None:
    from fsfer.engine.build import resolved_config

    crn = resolved_config(RunConfig(protocol="crn-rafdb"))  # CRN: 4-way 4-shot training, 3-way 3-shot test
    assert (crn.n_way, crn.k_shot, crn.q_query, crn.test_way, crn.test_shot, crn.test_query) == (4, 4, 5, 3, 3, 15)
    cdnet = resolved_config(RunConfig(protocol="cdnet-compound"))  # CDNet: 5-way, 16 queries per class
    assert (cdnet.eval_way, cdnet.eval_shot, cdnet.test_query) == (5, 1, 16)
    f = tmp_path / "run.toml"
    f.write_text('protocol = "crn-rafdb"\nn_way = 5\n')
    given = resolved_config(config_from_dict({"test_shot": 1}, "command line", base=load_config(f)))
    assert (given.n_way, given.k_shot, given.test_way, given.test_shot) == (5, 4, 3, 1)  # file and options win
    plain = resolved_config(RunConfig(base_classes=["anger"], novel_classes=["fear"]))  # no protocol file: defaults
    assert (plain.n_way, plain.k_shot, plain.q_query, plain.eval_way, plain.test_query) == (5, 1, 5, 5, 15)


def test_disjoint_subjects_is_auto_true_or_false(tmp_path: Path) -> None:
    f = tmp_path / "run.toml"
    for text, value in (('"auto"', None), ("true", True), ("false", False)):
        f.write_text(f"disjoint_subjects = {text}\nallow_small = true\n")
        cfg = load_config(f)
        assert cfg.disjoint_subjects is value and cfg.allow_small is True
        assert load_config_text(tmp_path, cfg.to_toml()).disjoint_subjects is value  # the saved config says the same
    f.write_text('disjoint_subjects = "sometimes"\n')
    with pytest.raises(ConfigError, match="disjoint_subjects must be true or false"):
        load_config(f)


def load_config_text(tmp_path: Path, text: str) -> RunConfig:
    g = tmp_path / "saved.toml"
    g.write_text(text)
    return load_config(g)


def test_bad_setting_tables_are_named(tmp_path: Path) -> None:
    from fsfer.protocols import load_protocol

    base = 'name = "p"\n[base]\nclasses = ["anger"]\n[novel]\nclasses = ["fear"]\n[setting]\n'
    for body, message in (("n_wya = 3\n", r"\[setting\] has unknown key 'n_wya'"),
                          ("k_shot = 0\n", r"\[setting\] k_shot must be an integer of at least 1; got 0"),
                          ('test_way = "3"\n', r"\[setting\] test_way must be an integer of at least 0")):
        p = tmp_path / "p.toml"
        p.write_text(base + body)
        with pytest.raises(ConfigError, match=message):
            load_protocol(p)
