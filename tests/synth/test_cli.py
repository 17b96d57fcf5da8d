"""``fsfer synth``: folder + manifest, preview sheet, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import fsfer.synth.writer as writer
from fsfer.cli import run
from fsfer.synth.aus import AU_COLUMNS
from fsfer.synth.dataset import decode, read


def test_writes_folder_and_manifest_that_agree_with_the_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "synth"
    args = ["synth", str(out), "--domain", "both", "--subjects", "3", "--per-subject", "1", "--size", "32",
            "--classes", "basic", "--seed", "4"]
    assert run(args) == 0
    summary = capsys.readouterr().out.strip().splitlines()
    assert len(summary) == 1 and "42 images" in summary[0]
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns[:5]) == ["path", "category", "subject", "domain", "split"]
    assert set(AU_COLUMNS) <= set(manifest.columns)
    assert len(manifest) == 3 * 7 * 2
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.csv", *set(manifest["category"])])
    assert sum(1 for _ in out.rglob("*.png")) == len(manifest)
    records = read("", subjects=3, per_subject=1, size=32, classes="basic", seed=4)
    for i in (0, 13, 41):
        row = manifest.iloc[i]
        assert row["path"].startswith(row["category"] + "/")
        pixels = np.asarray(Image.open(out / row["path"]).convert("RGB"))
        record = records[(records["label"] == row["category"]) & (records["subject"] == row["subject"])
                         & (records["domain"] == row["domain"])].iloc[0]
        assert record["split"] == row["split"]
        assert np.allclose(record[list(AU_COLUMNS)].astype(float), row[list(AU_COLUMNS)].astype(float))
        assert np.array_equal(pixels, decode(record, 32))
    assert not list(tmp_path.glob(".synth.*"))  # no temporary folder left
    # the folder reader reads the rendered folder back with the manifest's subjects and splits
    from fsfer.datasets.folder import read as read_folder

    back = read_folder(str(out)).set_index("item")
    assert back.loc[manifest["path"], "split"].tolist() == manifest["split"].tolist()
    assert back.loc[manifest["path"], "subject"].tolist() == manifest["subject"].tolist()


def test_preview_sheet_alone_and_with_a_folder(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    assert run(["synth", "--preview", str(sheet), "--subjects", "2", "--classes", "basic", "--size", "32",
                "--domain", "lab"]) == 0
    with Image.open(sheet) as im:
        assert im.size == (150 + 2 * 32, 30 + 7 * 32)
    assert list(tmp_path.iterdir()) == [sheet]
    out = tmp_path / "data"
    out.mkdir()  # an empty folder is fine
    assert run(["synth", str(out), "--preview", str(tmp_path / "s2.png"), "--subjects", "1", "--per-subject", "1",
                "--classes", "basic", "--domain", "wild", "--size", "32", "--contempt"]) == 0
    assert (tmp_path / "s2.png").is_file() and len(list(out.rglob("*.png"))) == 8


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--size", "7"], ["size=7", "32"]),
        (["--classes", "odd"], ["odd", "basic"]),
        (["--subjects", "-1"], ["subjects=-1"]),
        (["--per-subject", "0"], ["per_subject=0"]),
        (["--domain", "moon"], ["moon", "lab"]),
        (["--seed", "-3"], ["seed=-3"]),
    ],
)
def test_bad_arguments_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], words: list[str]
) -> None:
    out = tmp_path / "out"
    assert run(["synth", str(out), *extra]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("fsfer: error:")
    for word in words:
        assert word in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_non_empty_out_dir_and_nothing_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert run(["synth", str(out), "--subjects", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not empty" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert run(["synth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "OUT_DIR" in err[0]
    assert run(["synth", "--preview", str(tmp_path / "sheet.jpg")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_failure_midway_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = writer.render_image

    def flaky(image, size):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk on fire")
        return real(image, size)

    monkeypatch.setattr(writer, "render_image", flaky)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        run(["synth", str(out), "--subjects", "2", "--per-subject", "1", "--classes", "basic", "--size", "32"])
    assert list(tmp_path.iterdir()) == []


def test_datasets_info_reads_the_written_folder_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "synth"
    assert run(["synth", str(out), "--domain", "lab", "--subjects", "3", "--per-subject", "2", "--size", "32",
                "--classes", "basic"]) == 0
    capsys.readouterr()
    assert run(["datasets", "info", f"folder:{out}", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 3 * 2 * 7 and info["subjects"] == 3
    assert info["classes"] == {name: 6 for name in ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger")}




@pytest.mark.parametrize("size", [32, 64])
def test_sheet_headers_name_each_domain_once_and_each_subject_apart(size: int, drawn_texts: list) -> None:
    from PIL import ImageDraw

    from fsfer.synth.options import check_options

    texts = drawn_texts
    sheet = writer.contact_sheet(check_options("both", subjects=3, size=size, classes="basic"))
    headers = [(xy, text, font) for xy, text, font in texts if xy[0] >= 150]
    assert sorted(t for _, t, _ in headers) == sorted(["lab", "wild"] + ["s000", "s001", "s002"] * 2)
    measure = ImageDraw.Draw(sheet)
    for y in {xy[1] for xy, _, _ in headers}:
        row = sorted((xy[0], measure.textlength(t, font=f), t) for xy, t, f in headers if xy[1] == y)
        ends = [x + width for x, width, _ in row]
        assert ends[-1] <= sheet.width
        for (end, (_, _, text)), (x, _, nxt) in zip(zip(ends, row), row[1:]):
            assert end + 4 <= x, f"header {text!r} runs into {nxt!r}"


def test_preview_says_how_many_subjects_it_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "sheet.png"
    args = ["synth", "--preview", str(sheet), "--subjects", "12", "--classes", "basic", "--size", "32", "--domain", "lab"]
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "6 of 12 subjects" in out and "--preview-subjects 12" in out
    with Image.open(sheet) as im:
        assert im.width == 150 + 6 * 32
    assert run([*args, "--preview-subjects", "12"]) == 0
    assert "of 12 subjects" not in capsys.readouterr().out
    with Image.open(sheet) as im:
        assert im.width == 150 + 12 * 32
    assert run(["synth", str(tmp_path / "data"), "--preview-subjects", "3"]) == 2  # a sheet size with no sheet
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--preview" in err[0] and not (tmp_path / "data").exists()
