"""A researcher's run end to end: resume, interruption, help, notes, checkpoints by folder, predict, version."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from fsfer.cli import run
from fsfer.engine import pretrain as pretrain_module
from fsfer.engine import train as train_module
from fsfer.engine.checkpoint import load_checkpoint
from fsfer.engine.config import RunConfig
from fsfer.protocol_data import protocol_records
from fsfer.protocols import protocol_from_classes

DATA = "synth?subjects=16,per_subject=1,size=32"
TINY = ["--data", DATA, "--image-size", "32", "--method", "protonet", "--backbone", "conv4-pool", "--n-way", "3",
        "--k-shot", "1", "--q-query", "2", "--test-query", "2", "--episodes", "6", "--val-every", "3", "--val-episodes", "3",
        "--save-every", "3", "--test-episodes", "4", "--device", "cpu", "--quiet"]
PRE = ["--data", DATA, "--image-size", "32", "--backbone", "conv4-pool", "--epochs", "3", "--batch-size", "32",
       "--test-way", "3", "--test-query", "2", "--val-episodes", "3", "--test-episodes", "4", "--device", "cpu", "--quiet"]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("straight") / "run"
    assert run(["episode-train", *TINY, "--out", str(out)]) == 0
    return out


def test_episode_train_writes_its_report(straight: Path) -> None:
    for name in ("curves.png", "confusion.png", "per_class.png"):
        assert Image.open(straight / name).size[0] > 100, name
    assert "accuracy" in (straight / "report.md").read_text()


def test_resume_keeps_the_runs_own_length_and_refuses_force_or_a_finished_run(
    straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    cfg = RunConfig(data=[DATA], image_size=32, method="protonet", backbone="conv4-pool", n_way=3, k_shot=1, q_query=2,
                    test_query=2, episodes=6, val_every=3, val_episodes=3, save_every=3, test_episodes=4, device="cpu",
                    out=str(out))
    train_module.train(cfg, stop_after=3)
    assert run(["episode-train", "--resume", "--out", str(out), "--quiet"]) == 0  # not the default 1000 episodes
    assert load_checkpoint(out / "last.pt")["episode"] == 6
    same_weights(out / "last.pt", straight / "last.pt")
    capsys.readouterr()
    assert run(["episode-train", "--resume", "--out", str(out)]) == 2
    assert "has finished its 6 episodes; pass --episodes N (more than 6)" in one_line(capsys)
    assert run(["episode-train", "--resume", "--force", "--out", str(out)]) == 2
    assert "pass one of the two" in one_line(capsys)
    assert run(["episode-train", "--resume", "--lr", "0.1", "--out", str(out)]) == 2
    assert "--lr cannot change when resuming" in one_line(capsys)
    assert run(["episode-train", "--resume", "--episodes", "8", "--out", str(out), "--quiet"]) == 0
    assert load_checkpoint(out / "last.pt")["episode"] == 8
    assert "episodes = 8" in (out / "config.toml").read_text()
    with (out / "metrics.csv").open() as fh:
        assert [r["episode"] for r in csv.DictReader(fh) if r["phase"] == "train"] == [str(i) for i in range(1, 9)]


def test_sigint_saves_the_current_episode_and_resume_is_exact(
    straight: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    write = train_module.MetricsLog.write

    def write_then_signal(self, row):
        write(self, row)
        if row.get("episode") == 4 and row.get("phase") == "train":
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(train_module.MetricsLog, "write", write_then_signal)
    capsys.readouterr()
    assert run(["episode-train", *TINY, "--out", str(out)]) == 130
    line = one_line(capsys)
    assert line == (f"fsfer: stopped by SIGINT after episode 4; saved {out / 'last.pt'}; "
                    f"go on with `fsfer episode-train --resume --out {out}`")
    assert load_checkpoint(out / "last.pt")["episode"] == 4 and not (out / "results.json").exists()
    monkeypatch.setattr(train_module.MetricsLog, "write", write)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    assert run(["episode-train", "--resume", "--out", str(out), "--quiet"]) == 0
    same_weights(out / "last.pt", straight / "last.pt")
    assert (out / "metrics.csv").read_text() == (straight / "metrics.csv").read_text()


def test_sigint_mid_epoch_of_pretraining_resumes_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = tmp_path / "whole"
    assert run(["pretrain", *PRE, "--out", str(whole)]) == 0
    out = tmp_path / "stopped"
    calls = {"n": 0}
    augment = pretrain_module.augment_batch

    def augment_then_signal(images, generator):
        calls["n"] += 1
        if calls["n"] == 6:  # the second batch of epoch 2 (4 batches of 32 in an epoch of 154 images)
            os.kill(os.getpid(), signal.SIGINT)
        return augment(images, generator)

    monkeypatch.setattr(pretrain_module, "augment_batch", augment_then_signal)
    capsys.readouterr()
    assert run(["pretrain", *PRE, "--out", str(out)]) == 130
    assert "stopped by SIGINT in epoch 2, after batch 2 of 4" in one_line(capsys)
    saved = load_checkpoint(out / "last.pt")
    assert (saved["epoch"], saved["batch"]) == (1, 2)
    monkeypatch.setattr(pretrain_module, "augment_batch", augment)
    assert run(["pretrain", "--resume", "--out", str(out), "--quiet"]) == 0
    same_weights(out / "last.pt", whole / "last.pt")
    assert (out / "metrics.csv").read_text() == (whole / "metrics.csv").read_text()


def test_a_real_sigint_to_the_process_exits_130_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*TINY, "--episodes", "5000", "--val-every", "5000", "--save-every", "5000", "--out", str(out), "--threads", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "fsfer", "episode-train", *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "metrics.csv").is_file() or _rows(out) < 5:
        time.sleep(0.2)
        assert proc.poll() is None and time.time() < deadline
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1].startswith("fsfer: stopped by SIGINT after episode ")
    episode = load_checkpoint(out / "last.pt")["episode"]
    assert episode >= 5 and _rows(out) == episode


def _rows(out: Path) -> int:
    try:
        return sum(1 for line in (out / "metrics.csv").read_text().splitlines()[1:] if ",train," in line)
    except FileNotFoundError:
        return 0


def test_every_config_key_has_an_option_and_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["episode-train", "--help"]) == 0
    train_help = capsys.readouterr().out
    assert run(["pretrain", "--help"]) == 0
    pretrain_help = capsys.readouterr().out
    tables = {"method_options": "--method-option", "backbone_options": "--backbone-option"}
    for f in dataclasses.fields(RunConfig):
        flag = tables.get(f.name, "--" + f.name.replace("_", "-"))
        assert flag in train_help or flag in pretrain_help, f.name
    for flag in ("--weight-decay", "--step-size", "--gamma", "--augment", "--test-query", "--quiet"):
        assert flag in train_help
    assert "(1000)" in train_help and "(0.05)" in pretrain_help  # each command's own defaults
    assert run(["predict", "--help"]) == 0
    assert "[default: auto]" in capsys.readouterr().out


def test_options_and_names_are_checked_before_anything_is_rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = Path(os.environ["FSFER_CACHE"])
    before = sorted(cache.rglob("*")) if cache.exists() else []
    capsys.readouterr()
    assert run(["episode-train", "--method", "crnn", "--out", str(tmp_path / "x")]) == 2
    assert "--method 'crnn': unknown method; known methods: crn," in one_line(capsys)
    assert run(["episode-train", "--backbone", "conv5", "--out", str(tmp_path / "x")]) == 2
    assert "--backbone 'conv5'" in one_line(capsys)
    assert run(["episode-train", "--method-option", "lambda=1", "--out", str(tmp_path / "x")]) == 2
    assert "method 'crn' has no option(s) lambda" in one_line(capsys)
    assert (sorted(cache.rglob("*")) if cache.exists() else []) == before and not (tmp_path / "x").exists()


def test_method_and_backbone_options_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run(["episode-train", *TINY, "--method-option", "pooled=true", "--backbone-option", "hidden=16",
                "--out", str(out)]) == 0
    text = (out / "config.toml").read_text()
    assert "[method_options]\npooled = true" in text and "[backbone_options]\nhidden = 16" in text


def test_small_queries_get_a_note_and_the_line_shows_the_query_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a for a in TINY if a not in ("--quiet",)]
    args[args.index("--test-query") + 1] = "15"
    capsys.readouterr()
    assert run(["episode-train", *args, "--allow-small", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "test episodes have fewer than 15 queries for a class (allow_small" in captured.err
    assert "-query, 4 episodes" in captured.out


def test_a_run_folder_is_a_checkpoint_and_bad_files_say_what_they_are(
    straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["evaluate", str(straight), "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(json.loads((straight / "results.json").read_text())["accuracy"])
    assert (result["confusion_rows"], result["confusion_columns"]) == ("true", "predicted")
    assert run(["evaluate", str(straight / "test_episodes.csv")]) == 2
    assert "test_episodes.csv: not an fsfer checkpoint (it starts 'episode,role,class,item')" in one_line(capsys)
    junk = tmp_path / "random.bin"
    junk.write_bytes(bytes(range(256)))
    assert run(["evaluate", str(junk)]) == 2
    line = one_line(capsys)
    assert "random.bin: not an fsfer checkpoint" in line and "weights_only" not in line
    assert run(["evaluate", str(tmp_path)]) == 2
    assert "a folder holding no best.pt or last.pt" in one_line(capsys)


def test_evaluate_prints_the_confusion_matrix(straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    png = tmp_path / "confusion.png"
    assert run(["evaluate", str(straight), "--quiet", "--device", "cpu", "--confusion", str(png)]) == 0
    out = capsys.readouterr().out
    stored = json.loads((straight / "results.json").read_text())
    first = stored["classes"][0]
    row = next(line for line in out.splitlines() if line.strip().startswith(first))
    assert row.split()[-len(stored["classes"]):] == [str(n) for n in stored["confusion"][0]]
    assert Image.open(png).size[0] > 100


def test_predict_takes_several_queries_after_one_option(straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    support = tmp_path / "support"
    for name, colour in (("smirk", (200, 30, 30)), ("pout", (30, 30, 200))):
        (support / name).mkdir(parents=True)
        Image.new("RGB", (32, 32), colour).save(support / name / "a.png")
    queries = [support / "smirk" / "a.png", support / "pout" / "a.png"]
    capsys.readouterr()
    assert run(["predict", str(straight), "--support", str(support), "--query", *map(str, queries), "--json"]) == 0
    assert [p["path"] for p in json.loads(capsys.readouterr().out)["predictions"]] == [str(q) for q in queries]
    assert run(["predict", str(straight), "--support", str(support)]) == 2
    assert "no query image" in one_line(capsys)


def test_class_lists_without_data_default_to_synth() -> None:
    protocol = protocol_from_classes(["happiness", "sadness"], ["anger", "fear"])
    records, specs = protocol_records(protocol, None)
    assert specs == ["synth"] and set(records["label"]) >= {"happiness", "anger"}


def test_version_and_warnings_are_one_line(straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fsfer import __version__

    capsys.readouterr()
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"fsfer {__version__} (torch ")
    root = tmp_path / "faces"
    for name in ("anger", "happiness", "sadness"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (16, 16), (40 * i, 80, 120)).save(root / name / f"{i}.png")
    (root / "sadness" / "broken.png").write_bytes(b"not an image")
    protocol = tmp_path / "two.toml"
    protocol.write_text('name = "two"\n[base]\nclasses = ["anger"]\n[val]\nclasses = ["anger"]\n'
                        '[novel]\nclasses = ["happiness", "sadness"]\n')
    assert run(["evaluate", str(straight), "--data", f"folder:{root}", "--protocol", str(protocol), "--n-way", "2",
                "--k-shot", "1", "--q-query", "1", "--episodes", "2", "--no-disjoint-subjects", "--quiet"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "unreadable" in line]
    assert warnings and all(line.startswith("fsfer: warning: skipped 1 unreadable image(s)") for line in warnings)
    assert "warnings.warn" not in err and "FsferWarning" not in err


def test_tensorboard_event_files_mirror_the_metrics(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert run(["episode-train", *TINY, "--tensorboard", "--out", str(out)]) == 0
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/accuracy", "train/lr", "val/accuracy", "val/ci95"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, 7))
    with (out / "metrics.csv").open() as fh:
        val = [float(r["accuracy"]) for r in csv.DictReader(fh) if r["phase"] == "val"]
    assert [round(e.value, 5) for e in events.Scalars("val/accuracy")] == [round(v, 5) for v in val]


def test_commands_run_on_one_thread_unless_told(straight: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fsfer.engine import evaluate_run

    seen: list[int] = []
    original = evaluate_run.evaluate

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluate_run, "evaluate", spy)
    torch.set_num_threads(2)
    try:
        assert run(["evaluate", str(straight), "--quiet", "--device", "cpu"]) == 0
        assert seen == [1] and torch.get_num_threads() == 2  # benchmarks/threads.py: one thread was fastest
    finally:
        torch.set_num_threads(1)
