"""``fsfer episodes make`` and ``show``: the CSV, its summary, the preview, and bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fsfer.cli import run

SMALL = "synth?subjects=16,per_subject=1,size=32"


def test_make_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "novel.csv"
    argv = ["episodes", "make", "--data", SMALL, "--protocol", "synth-basic-to-compound", "--split", "novel",
            "--n-way", "5", "--k-shot", "1", "--q-query", "3", "--episodes", "4", "--seed", "0", "--out", str(out)]
    assert run(argv) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 * 5 * (1 + 3)
    assert {r["role"] for r in rows} == {"support", "query"} and rows[0]["item"].startswith("synth:")
    first = out.read_bytes()
    assert run(argv) == 2  # exists: refused without --force, file untouched
    assert "already exists" in capsys.readouterr().err
    assert run(argv + ["--force"]) == 0 and out.read_bytes() == first  # same seed, same bytes
    capsys.readouterr()
    png = tmp_path / "grid.png"
    assert run(["episodes", "show", str(out), "--preview", str(png), "--data", SMALL, "--image-size", "32"]) == 0
    shown = capsys.readouterr().out
    assert "4 episodes, 5-way 1-shot 3-query" in shown and png.stat().st_size > 0


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--n-way", "9", "--split", "base"], "n_way = 9 is larger than the 7 classes"),
        (["--k-shot", "5", "--q-query", "30"], "fewer than k_shot + q_query = 35"),
        (["--protocol", "crn-rafdb"], "needs rafdb data: pass --data rafdb:ROOT"),
        (["--base-classes", "happiness", "--novel-classes", "contempt"], "novel class 'contempt' is not in"),
    ],
)
def test_make_bad_input(extra, expected, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.csv"
    assert run(["episodes", "make", "--data", SMALL, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
    assert not out.exists()


def test_show_rejects_items_not_in_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "e.csv"
    f.write_text("episode,role,class,item\n0,support,anger,rafdb:a.jpg\n0,query,anger,rafdb:b.jpg\n")
    assert run(["episodes", "show", str(f), "--preview", str(tmp_path / "p.png"), "--data", SMALL]) == 2
    assert "item 'rafdb:a.jpg' is not in the dataset" in capsys.readouterr().err


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the item of every image the store decodes (renders, for synth)."""
    import fsfer.store

    decoded: list[str] = []
    real = fsfer.store.decode_record

    def counting(row, size):  # type: ignore[no-untyped-def]
        decoded.append(f"{row['source']}:{row['item']}")
        return real(row, size)

    monkeypatch.setattr(fsfer.store, "decode_record", counting)
    return decoded


@pytest.mark.parametrize("data", [[], ["--data", SMALL]], ids=["default-synth", "data-spec"])
def test_show_preview_decodes_only_the_drawn_episode(
    data: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.csv"
    assert run(["episodes", "make", *data, "--n-way", "5", "--k-shot", "1", "--q-query", "3", "--episodes", "3",
                "--out", str(out)]) == 0
    wanted = {r["item"] for r in csv.DictReader(out.open()) if r["episode"] == "1"}
    decoded = _count_decodes(monkeypatch)
    png = tmp_path / "grid.png"
    assert run(["episodes", "show", str(out), "--preview", str(png), "--episode", "1", *data, "--image-size", "32"]) == 0
    assert "drew episode 1" in capsys.readouterr().out and png.stat().st_size > 0
    assert sorted(decoded) == sorted(wanted)  # the 20 images of episode 1, not the whole dataset


def test_show_preview_episode_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e.csv"
    assert run(["episodes", "make", "--data", SMALL, "--q-query", "3", "--episodes", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    png = tmp_path / "grid.png"
    assert run(["episodes", "show", str(out), "--preview", str(png), "--episode", "2", "--data", SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--episode 2 is out of range 0..1" in err[0] and not png.exists()
