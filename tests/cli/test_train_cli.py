"""``fsfer episode-train``, ``evaluate`` and ``predict`` from the command line, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from fsfer.cli import run

TINY = ["--data", "synth?subjects=16,per_subject=1,size=32", "--image-size", "32", "--method", "protonet",
        "--backbone", "conv4-pool", "--n-way", "3", "--k-shot", "1", "--q-query", "2", "--test-query", "2", "--episodes", "4",
        "--val-every", "2", "--val-episodes", "3", "--save-every", "2", "--test-episodes", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert run(["episode-train", *TINY, "--out", str(out)]) == 0
    return out


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_train_prints_where_the_results_are(trained: Path) -> None:
    results = json.loads((trained / "results.json").read_text())
    assert results["method"] == "protonet" and results["n_way"] == 3


def test_config_file_with_overrides(tmp_path: Path, trained: Path) -> None:
    out = tmp_path / "again"
    assert run(["episode-train", "--config", str(trained / "config.toml"), "--out", str(out), "--episodes", "2"]) == 0
    text = (out / "config.toml").read_text()
    assert "episodes = 2" in text and 'method = "protonet"' in text


def test_evaluate_json_on_the_runs_test_file(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["evaluate", str(trained / "best.pt"), "--episodes", str(trained / "test_episodes.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    stored = json.loads((trained / "results.json").read_text())
    for key in ("accuracy", "ci95", "episodes", "n_way", "k_shot", "q_query", "per_class"):
        assert result[key] == pytest.approx(stored[key])
    assert run(["evaluate", str(trained / "best.pt"), "--episodes", "7", "--n-way", "4", "--q-query", "1", "--json"]) == 0
    drawn = json.loads(capsys.readouterr().out)
    assert (drawn["episodes"], drawn["n_way"], drawn["q_query"]) == (7, 4, 1)


def test_predict_new_classes_from_a_folder(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    support = tmp_path / "support"
    for name, colour in (("smirk", (200, 30, 30)), ("pout", (30, 30, 200))):
        (support / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 40), tuple(c + 10 * i for c in colour)).save(support / name / f"{i}.png")
    query = tmp_path / "q.png"
    Image.new("RGB", (40, 40), (205, 35, 30)).save(query)
    capsys.readouterr()
    assert run(["predict", str(trained / "best.pt"), "--support", str(support), "--query", str(query), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["predictions"]
    assert out[0]["path"] == str(query) and out[0]["label"] in {"smirk", "pout"}
    assert sum(out[0]["scores"].values()) == pytest.approx(1.0)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert run(["predict", str(trained / "best.pt"), "--support", str(support), "--query", str(bad)]) == 2
    assert "bad.png" in _one_error_line(capsys)


def test_bad_input_one_line_exit_2_nothing_written(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    junk = tmp_path / "junk.pt"
    junk.write_text("no")
    assert run(["evaluate", str(junk)]) == 2
    assert "junk.pt: not an fsfer checkpoint" in _one_error_line(capsys)
    cfg = tmp_path / "c.toml"
    cfg.write_text("n_wya = 5\n")
    assert run(["episode-train", "--config", str(cfg), "--out", str(tmp_path / "x")]) == 2
    assert "c.toml: unknown key 'n_wya'" in _one_error_line(capsys)
    cfg.write_text('episodes = "many"\n')
    assert run(["episode-train", "--config", str(cfg), "--out", str(tmp_path / "x")]) == 2
    assert "episodes must be an integer" in _one_error_line(capsys)
    assert run(["episode-train", *TINY, "--protocol", "crn-sfew", "--out", str(tmp_path / "x")]) == 2
    assert "needs sfew data: pass --data sfew:ROOT" in _one_error_line(capsys)
    assert run(["episode-train", *TINY, "--out", str(trained)]) == 2
    assert "holds another run" in _one_error_line(capsys)
    assert not (tmp_path / "x").exists()


def test_threads_apply_during_the_command_and_are_restored(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from fsfer.engine import evaluate_run

    seen: list[int] = []
    original = evaluate_run.evaluate_checkpoint

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluate_run, "evaluate_checkpoint", spy)
    before = torch.get_num_threads()
    assert run(["evaluate", str(trained / "best.pt"), "--episodes", "2", "--threads", str(before + 1), "--json"]) == 0
    assert seen == [before + 1] and torch.get_num_threads() == before
    capsys.readouterr()
    assert run(["evaluate", str(trained / "best.pt"), "--episodes", "2", "--threads", "0"]) == 2
    assert _one_error_line(capsys) == "fsfer: error: --threads must be at least 1; got 0"
