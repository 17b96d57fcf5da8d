"""``fsfer report`` and :mod:`fsfer.report`: the pictures and report.md of a run folder, and bad folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from fsfer.cli import run
from fsfer.errors import ConfigError, DataError
from fsfer.report import (
    COLORBAR_TITLE, CURVES_FIGSIZE, CURVES_PANELS, confusion_figsize, confusion_matrix_normalised, draw_confusion,
    figure_pixels, moving_average, per_class_figsize, read_metrics, write_report,
)

SYNTH = ["--data", "synth?subjects=16,per_subject=1,size=32", "--image-size", "32", "--device", "cpu", "--threads", "1"]
TINY = [*SYNTH, "--method", "protonet", "--backbone", "conv4-pool", "--n-way", "3", "--k-shot", "1", "--q-query", "2",
        "--test-query", "2", "--episodes", "6", "--val-every", "3", "--val-episodes", "3", "--test-episodes", "4"]
PRETRAIN = [*SYNTH, "--epochs", "2", "--batch-size", "32", "--test-query", "2", "--val-episodes", "2", "--test-episodes", "3"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny finished episodic run and a tiny pretraining run (their reports written in their own folders)."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FSFER_CACHE", str(root / "cache"))
        assert run(["episode-train", *TINY, "--out", str(root / "episodic")]) == 0
        assert run(["pretrain", *PRETRAIN, "--out", str(root / "pretrain")]) == 0
    return {"episodic": root / "episodic", "pretrain": root / "pretrain"}


@pytest.fixture(scope="module")
def episodic(runs: dict[str, Path]):
    return write_report(runs["episodic"] / "best.pt")  # a checkpoint stands for its folder


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def test_a_finished_run_gets_four_files_of_the_expected_sizes(runs: dict[str, Path], episodic) -> None:
    folder = runs["episodic"]
    assert episodic.files == {k: folder / f"{k}.{'md' if k == 'report' else 'png'}" for k in ("curves", "confusion", "per_class", "report")}
    results = json.loads((folder / "results.json").read_text())
    classes = results["classes"]
    assert _png_size(folder / "curves.png") == figure_pixels(CURVES_FIGSIZE) == (1500, 450)
    assert _png_size(folder / "confusion.png") == figure_pixels(confusion_figsize(classes))
    longest = max(len(c) for c in results["per_class"])
    assert _png_size(folder / "per_class.png") == figure_pixels(per_class_figsize(len(results["per_class"]), longest))


def test_panels_name_what_each_picture_shows(episodic) -> None:
    assert episodic.panels["curves"] == CURVES_PANELS == ["training loss", "accuracy", "learning rate"]
    assert episodic.panels["confusion"] == ["confusion over 4 test episodes, 3-way (rows sum to 100%)", COLORBAR_TITLE]
    assert episodic.panels["per_class"] == ["per-class test accuracy, 3-way 1-shot"]


def test_report_md_states_the_result_versions_pictures_and_config(runs: dict[str, Path], episodic) -> None:
    results = json.loads((runs["episodic"] / "results.json").read_text())
    text = episodic.files["report"].read_text()
    assert text.startswith("# fsfer report: synth-basic-to-compound, protonet, conv4-pool\n")
    acc, ci = 100 * results["accuracy"], 100 * results["ci95"]
    assert (f"3-way 1-shot, 2 queries, 4 episodes (subject-disjoint): accuracy {acc:.2f}% +- {ci:.2f}%; "
            f"best validation {100 * results['best_val_accuracy']:.2f}%") in text
    assert f"fsfer {results['fsfer_version']}, torch {results['torch_version']}" in text
    for name in ("curves", "confusion", "per_class"):
        assert f"![{name}]({name}.png)" in text
    for name, value in results["per_class"].items():
        assert f"| {name} | {100 * value:.2f}% |" in text
    assert "```toml\n# fsfer episode-train config; repeat this run with:" in text and 'method = "protonet"' in text


def test_cli_writes_elsewhere_with_out(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pictures"
    capsys.readouterr()
    assert run(["report", str(runs["episodic"]), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = ["curves.png", "confusion.png", "per_class.png", "report.md"]
    assert lines == [f"wrote {out / n}" for n in names]
    assert all((out / n).is_file() for n in names)
    assert "![curves](curves.png)" in (out / "report.md").read_text()


def test_an_unfinished_run_gets_curves_and_how_to_finish(runs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "stopped"
    shutil.copytree(runs["episodic"], folder, ignore=shutil.ignore_patterns("*.png", "report.md"))
    (folder / "results.json").unlink()
    report = write_report(folder)
    assert set(report.files) == {"curves", "report"} and set(report.panels) == {"curves"}
    assert sorted(p.name for p in folder.iterdir() if p.suffix in (".png", ".md")) == ["curves.png", "report.md"]
    text = report.files["report"].read_text()
    assert "The test has not run yet" in text and f"`fsfer episode-train --resume --out {folder}`" in text
    assert "confusion.png" not in text


def test_a_pretrain_run_counts_epochs(runs: dict[str, Path], tmp_path: Path) -> None:
    folder = runs["pretrain"]
    assert read_metrics(folder / "metrics.csv").step == "epoch"  # the curves' x axis
    report = write_report(folder, tmp_path)
    assert set(report.files) == {"curves", "confusion", "per_class", "report"}
    assert report.panels["curves"] == CURVES_PANELS
    text = report.files["report"].read_text()
    assert "(`fsfer pretrain`)" in text and "pretrain+protonet" in text
    assert _png_size(report.files["curves"]) == (1500, 450)


def test_a_folder_without_metrics_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["report", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "not a run folder" in lines[0]
    with pytest.raises(ConfigError, match="no such run folder"):
        write_report(tmp_path / "missing")


def test_a_metrics_file_without_its_columns_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "metrics.csv").write_text("episode,loss\n1,0.5\n")
    with pytest.raises(DataError, match=r"metrics\.csv: missing column\(s\) phase, accuracy, ci95, lr"):
        write_report(tmp_path)
    (tmp_path / "metrics.csv").write_text("episode,phase,loss,accuracy,ci95,lr\n1,train,oops,0.5,,0.1\n")
    with pytest.raises(DataError, match=r"metrics\.csv: line 2: loss 'oops' is not a number"):
        write_report(tmp_path)


def test_confusion_rows_are_normalised_and_zero_rows_stay_zero() -> None:
    assert confusion_matrix_normalised([[2, 2], [0, 4]]) == [[0.5, 0.5], [0.0, 1.0]]
    assert confusion_matrix_normalised([[0, 0], [1, 3]]) == [[0.0, 0.0], [0.25, 0.75]]


def test_draw_confusion_grows_with_the_classes_and_checks_its_shape(tmp_path: Path) -> None:
    small, large = confusion_figsize(["a", "b"]), confusion_figsize([f"fearfully_surprised_{i}" for i in range(15)])
    assert large[0] > small[0] and large[1] > small[1]
    assert all((100 * v).is_integer() for v in small + large)  # a whole number of pixels at 100 dpi
    titles = draw_confusion(["a", "b"], [[2, 2], [0, 4]], tmp_path / "c.png", title="hand-made")
    assert titles == ["hand-made", COLORBAR_TITLE]
    assert _png_size(tmp_path / "c.png") == figure_pixels(small)
    with pytest.raises(DataError, match="does not fit 2 classes"):
        draw_confusion(["a", "b"], [[1, 2, 3]], tmp_path / "bad.png")


def test_moving_average_starts_at_the_first_step() -> None:
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([4.0, 2.0], 1) == [4.0, 2.0]
