"""``fsfer datasets``: formats, info (human and --json), --verify, and bad input (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fsfer.cli import run


def _folder(root: Path) -> Path:
    for split, counts in (("train", {"happy": 3, "angry": 2}), ("test", {"happy": 1, "angry": 1})):
        for cls, n in counts.items():
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (6, 6), (i * 30, 0, 0)).save(root / split / cls / f"{i}.png")
    return root


def test_formats_lists_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["datasets", "formats"]) == 0
    out = capsys.readouterr().out
    for name in ("rafdb", "rafdb-compound", "fer2013", "ferplus", "sfew", "affectnet", "ckplus", "jaffe", "expw", "folder", "synth"):
        assert f"\n{name}\n" in "\n" + out


def test_info_json_is_one_object_with_the_documented_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _folder(tmp_path / "d")
    assert run(["datasets", "info", f"folder:{root}", "--json"]) == 0
    out = capsys.readouterr().out
    info = json.loads(out)
    assert info == {
        "format": "folder",
        "root": str(root),
        "images": 7,
        "classes": {"happiness": 4, "anger": 3},
        "splits": {"train": {"happiness": 3, "anger": 2}, "test": {"happiness": 1, "anger": 1}},
    }


def test_info_verify_lists_unreadable_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _folder(tmp_path / "d")
    assert run(["datasets", "info", f"folder:{root}", "--json", "--verify"]) == 0
    assert json.loads(capsys.readouterr().out)["unreadable"] == []
    broken = root / "train" / "angry" / "1.png"
    broken.write_bytes(b"garbage")
    assert run(["datasets", "info", f"folder:{root}", "--json", "--verify"]) == 1
    assert json.loads(capsys.readouterr().out)["unreadable"] == [str(broken)]


def test_info_human_readable_shows_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a long root with [brackets]: printed whole on one line, not wrapped nor read as markup
    root = _folder(tmp_path / ("a-rather-long-folder-name-" * 4) / "faces[v2]")
    assert run(["datasets", "info", f"folder:{root}"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"folder {root}: 7 images" and "happiness" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["datasets", "info", "nosuchformat:/x"], "unknown dataset format 'nosuchformat'; known formats: rafdb"),
        (["datasets", "info", "rafdb:/no/such/root"], "/no/such/root"),
        (["datasets", "info", "synth?bogus=1"], "unknown option 'bogus'"),
        (["datasets", "info", "--no-such-flag"], "No such option"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(argv, expected, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fsfer: error: ") and expected in lines[0]
    assert captured.out == ""


def test_python_dash_m_and_help_list_the_groups() -> None:
    done = subprocess.run([sys.executable, "-m", "fsfer", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for group in ("datasets", "episodes", "synth"):
        assert group in done.stdout
    bad = subprocess.run([sys.executable, "-m", "fsfer", "datasets", "info", "rafdb:/nope"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def _subject_folder(root: Path) -> Path:
    """happy: S1_a, S2_a, S2_b (train), S3_a (test); angry: S1_b, x; sad: y; x and y are in manifest.csv."""
    names = {"train/happy": ["S1_a.png", "S2_a.png", "S2_b.png"], "test/happy": ["S3_a.png"],
             "train/angry": ["S1_b.png", "x.png"], "train/sad": ["y.png"]}  # fmt: skip
    for folder, files in names.items():
        (root / folder).mkdir(parents=True)
        for name in files:
            Image.new("RGB", (6, 6)).save(root / folder / name)
    (root / "manifest.csv").write_text("path,subject\ntrain/angry/x.png,S4\ntrain/sad/y.png,\n")
    return root


def test_info_json_counts_subjects_per_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _subject_folder(tmp_path / "d")
    (root / "train" / "sad" / "y.png").rename(root / "train" / "sad" / "S5_y.png")
    (root / "manifest.csv").write_text("path,subject\ntrain/angry/x.png,S4\n")
    assert run(["datasets", "info", f"folder:{root}?subject=^(S\\d+)_", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["classes"]) == ["happiness", "sadness", "anger"]  # canonical class order
    assert info["subjects"] == 5 and "images_without_subject" not in info
    assert info["subjects_per_class"] == {"happiness": 3, "anger": 2, "sadness": 1}
    assert list(info["subjects_per_class"]) == list(info["classes"])


def test_info_json_counts_images_without_subject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _subject_folder(tmp_path / "d")
    (root / "manifest.csv").write_text("path,subject\ntrain/happy/S1_a.png,S1\ntrain/happy/S2_a.png,S2\n")
    assert run(["datasets", "info", f"folder:{root}", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["subjects"] == 2 and info["images_without_subject"] == 5
    assert info["subjects_per_class"] == {"happiness": 2, "anger": 0, "sadness": 0}


def test_info_table_has_a_subjects_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _subject_folder(tmp_path / "d")
    (root / "manifest.csv").write_text("path,subject\ntrain/angry/x.png,S4\ntrain/happy/S2_b.png,\n")
    (root / "train" / "sad" / "y.png").unlink()
    assert run(["datasets", "info", f"folder:{root}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"folder {root}: 6 images, 1 subjects (5 images without subject)"
    cells = [[c.strip() for c in line.replace("┃", "│").split("│")] for line in lines[1:]]
    rows = {row[0]: row[1:] for row in cells if len(row) > 1}
    assert rows["class"] == ["train", "test", "all", "subjects"]
    assert rows["happiness"] == ["3", "1", "4", "0"] and rows["anger"] == ["2", "0", "2", "1"]


def test_info_table_without_subjects_has_no_subjects_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["datasets", "info", f"folder:{_folder(tmp_path / 'd')}"]) == 0
    assert "subjects" not in capsys.readouterr().out
