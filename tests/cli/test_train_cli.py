"""``fsfer episode-train``, ``evaluate`` and ``predict`` from the command line, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


# -- subjects, replays and the literature's episode shapes ---------------------------------------------------


def _identity_folder(root: Path, subjects: int = 2, frames: int = 8) -> Path:
    """Four classes whose faces are one random texture per subject, barely changed by the class.

    Like the frames of posed sequences: images of one subject and class are near-identical,
    and a class adds only +6 to one colour channel. Each class has its own ``subjects`` people
    (files ``s<k>_<class>_<frame>.png``), so a person gives the class away.
    """
    classes = ("happiness", "sadness", "anger", "neutral")  # neutral: no shift (the base class)
    rng = np.random.default_rng(0)
    textures = rng.integers(40, 200, size=(len(classes) * subjects, 8, 8, 3))
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for s in range(c * subjects, (c + 1) * subjects):
            for f in range(frames):
                img = np.kron(textures[s], np.ones((4, 4, 1))) + rng.integers(-2, 3, size=(32, 32, 3))
                if c < 3:
                    img[..., c] += 6
                Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(root / name / f"s{s}_{name}_{f}.png")
    return root


def test_identity_leakage_inflates_accuracy_and_disjoint_episodes_do_not(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _identity_folder(tmp_path / "faces")
    spec = f"folder:{root}?subject=^(s\\d+)_"
    make = ["episodes", "make", "--data", spec, "--base-classes", "neutral", "--novel-classes", "happiness,sadness,anger",
            "--n-way", "3", "--k-shot", "2", "--q-query", "4", "--episodes", "60"]
    disjoint, leaky = tmp_path / "disjoint.csv", tmp_path / "leaky.csv"
    capsys.readouterr()
    assert run(make + ["--out", str(disjoint)]) == 0
    assert "subject-disjoint" in capsys.readouterr().out
    assert run(make + ["--no-disjoint-subjects", "--out", str(leaky)]) == 0
    assert "subjects not kept apart" in capsys.readouterr().out
    scores = {}
    for name, file in (("disjoint", disjoint), ("leaky", leaky)):
        # a checkpoint trained on SynthFER replays a folder dataset's episode file: no protocol needed
        assert run(["evaluate", str(trained / "best.pt"), "--data", spec, "--episodes", str(file), "--json"]) == 0
        scores[name] = json.loads(capsys.readouterr().out)
    assert scores["leaky"]["disjoint_subjects"] is False and scores["disjoint"]["disjoint_subjects"] is True
    assert scores["leaky"]["episodes"] == scores["disjoint"]["episodes"] == 60
    # the same (nearly untrained) embedder: recognising the person wins leaky episodes; chance is 1/3
    assert scores["leaky"]["accuracy"] > 0.7 and scores["disjoint"]["accuracy"] < 0.45


def test_no_default_episode_shares_a_subject(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fsfer.datasets.spec import read_many
    from fsfer.episodes.fixed import load_episodes
    from fsfer.episodes.subjects import shares_subjects
    from fsfer.store import index_dataset

    store = index_dataset(read_many([TINY[1]]))
    for name in ("val_episodes.csv", "test_episodes.csv"):  # episode-train's fixed sets
        assert shares_subjects(store, load_episodes(trained / name, store)) is False, name
    made = tmp_path / "made.csv"
    assert run(["episodes", "make", "--data", TINY[1], "--q-query", "2", "--episodes", "30", "--out", str(made)]) == 0
    assert shares_subjects(store, load_episodes(made, store)) is False
    results = json.loads((trained / "results.json").read_text())
    assert results["disjoint_subjects"] is True and 'disjoint_subjects = true' in (trained / "config.toml").read_text()
    capsys.readouterr()
    assert run(["evaluate", str(trained / "best.pt"), "--episodes", "5", "--q-query", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["disjoint_subjects"] is True
    assert run(["evaluate", str(trained / "best.pt"), "--episodes", "5", "--q-query", "2", "--no-disjoint-subjects", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["disjoint_subjects"] is False


def test_no_disjoint_subjects_turns_it_off_for_a_run(tmp_path: Path) -> None:
    out = tmp_path / "leaky"
    assert run(["episode-train", *TINY, "--no-disjoint-subjects", "--episodes", "2", "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["disjoint_subjects"] is False
    assert "disjoint_subjects = false" in (out / "config.toml").read_text()


def test_evaluate_with_no_episodes_replays_the_runs_test_file(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["evaluate", str(trained / "best.pt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    stored = json.loads((trained / "results.json").read_text())
    assert result["episodes_file"] == str(trained / "test_episodes.csv") == stored["test_episodes_file"]
    for key in ("accuracy", "ci95", "episodes", "per_class", "confusion", "disjoint_subjects"):
        assert result[key] == stored[key], key


def test_the_repeat_line_of_config_toml_works_as_written(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    first = (trained / "config.toml").read_text().splitlines()[0]
    command = shlex.split(first.split("repeat this run with: ", 1)[1])
    assert command[:2] == ["fsfer", "episode-train"] and str(trained / "config.toml") in command
    capsys.readouterr()
    assert run(command[1:]) == 0  # no collision with the run it came from
    again = Path(command[command.index("--out") + 1])
    assert again != trained and again.name == trained.name + "-repeat"
    ours, theirs = (json.loads((d / "results.json").read_text()) for d in (trained, again))
    assert ours["accuracy"] == theirs["accuracy"] and ours["per_class"] == theirs["per_class"]


def test_subject_errors_name_the_data_and_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain"  # a folder dataset without subjects
    for name in ("happiness", "sadness", "anger", "fear"):
        (plain / name).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), (10 * i, 0, 0)).save(plain / name / f"{i}.png")
    capsys.readouterr()
    out = tmp_path / "e.csv"
    base = ["episodes", "make", "--data", f"folder:{plain}", "--base-classes", "happiness", "--novel-classes",
            "sadness,anger,fear", "--n-way", "3", "--q-query", "2", "--out", str(out)]
    assert run(base + ["--disjoint-subjects"]) == 2
    line = _one_error_line(capsys)
    assert f"--disjoint-subjects: folder:{plain} gives no subject for 24 of its images" in line and "drop --disjoint-subjects" in line
    assert not out.exists()
    assert run(base) == 0 and "subjects not kept apart: the data has no subjects" in capsys.readouterr().out
    run_dir = tmp_path / "r"
    assert run(["episode-train", *TINY[2:], "--data", f"folder:{plain}", "--base-classes", "happiness,sadness",
                "--novel-classes", "anger,fear", "--n-way", "2", "--disjoint-subjects", "--out", str(run_dir)]) == 2
    assert "gives no subject for" in _one_error_line(capsys) and not run_dir.exists()
    # too few subjects for the shots and a disjoint query: the class, its count, and the fixes
    assert run(["episode-train", *TINY, "--test-query", "3", "--out", str(run_dir)]) == 2
    line = _one_error_line(capsys)
    assert "validation episodes" in line and "subject(s)" in line and "allow_small" in line and "--no-disjoint-subjects" in line
    assert not run_dir.exists()


def test_test_way_shot_and_query_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the CRN shape: 4 base classes, 3 novel ones
    classes = ["--base-classes", "happiness,sadness,surprise,neutral", "--novel-classes", "anger,disgust,fear"]
    out = tmp_path / "crn"
    capsys.readouterr()
    assert run(["episode-train", *TINY, *classes, "--n-way", "4", "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert "test_way = 4 is larger than the 3 novel classes" in line and "--test-way 3" in line
    assert not out.exists()
    assert run(["episode-train", *TINY, *classes, "--n-way", "4", "--test-way", "3", "--test-shot", "2",
                "--test-query", "1", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert (results["n_way"], results["k_shot"], results["q_query"]) == (3, 2, 1)
