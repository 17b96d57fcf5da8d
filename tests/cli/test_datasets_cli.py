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
