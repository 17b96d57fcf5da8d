"""AU probes of frozen embedders: the AUC, ridge, logistic and bootstrap pieces on hand-made cases, and
``fsfer probe`` on SynthFER with a tiny embedder trained here (it must beat its random twin)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fsfer.cli import run
from fsfer.errors import ConfigError, DataError
from fsfer.probe import (
    auc,
    average_ranks,
    bootstrap_ci,
    fit_logistic,
    fit_ridge,
    parse_aus,
    pixel_features,
    probe_aus,
    r2_score,
    subject_split,
)
from fsfer.transforms import Normalise

SPEC = "synth?subjects=16,per_subject=1,size=32"
#: AUs that tell the basic classes apart (happiness 12+25, surprise 1+2+25+26, fear/anger/sadness 4).
BASIC_AUS = (1, 2, 4, 12, 25, 26)


# ---------------------------------------------------------------- pieces


def test_auc_of_separated_reversed_and_tied_scores() -> None:
    labels = torch.tensor([0, 0, 1, 1, 1])
    assert auc(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.9]), labels) == 1.0
    assert auc(torch.tensor([0.9, 0.8, 0.3, 0.2, 0.1]), labels) == 0.0
    assert auc(torch.full((5,), 0.7), labels) == 0.5


def test_auc_counts_pairs_and_ties_half() -> None:
    # pairs (pos, neg): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 -> 3 of 4
    assert auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])) == pytest.approx(0.75)
    # one tie between a positive and a negative counts half: (1 + 0.5) / 2
    assert auc(torch.tensor([0.2, 0.5, 0.5, 0.9]), torch.tensor([0, 1, 0, 1]).bool()) == pytest.approx(0.875)
    assert math.isnan(auc(torch.tensor([0.1, 0.2]), torch.tensor([1, 1])))


def test_average_ranks_share_ties() -> None:
    ranks = average_ranks(torch.tensor([3.0, 1.0, 3.0, 2.0, 3.0]))
    assert ranks.tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


def test_r2_is_one_for_a_perfect_fit_zero_for_the_mean_nan_for_a_constant_target() -> None:
    y = torch.tensor([[1.0, 2.0], [2.0, 2.0], [4.0, 2.0]])
    assert r2_score(y[:, 0], y[:, 0]).tolist() == [1.0]
    assert r2_score(y[:, 0], torch.full((3,), 7 / 3)).item() == pytest.approx(0.0, abs=1e-12)
    out = r2_score(y, y)
    assert out[0] == 1.0 and math.isnan(out[1])


def test_ridge_on_an_exactly_linear_target() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g) * torch.tensor([1.0, 5.0, 0.1, 2.0, 1.0, 3.0]) + 4.0
    w = torch.tensor([0.5, -0.2, 3.0, 0.0, 1.0, 0.1])
    y = x @ w + 2.0
    probe = fit_ridge(x, y)  # lambda = 6 (1 x features)
    assert probe.lam == 6.0
    assert r2_score(y, probe.predict(x)).item() > 0.999
    exact = fit_ridge(x, y, lam=0.0)  # no penalty: least squares, the target exactly
    assert torch.allclose(exact.predict(x).flatten(), y.double(), atol=1e-8)
    # several targets at once equal one at a time
    both = fit_ridge(x, torch.stack([y, -y], 1)).predict(x)
    assert torch.allclose(both[:, 1], -probe.predict(x).flatten())


def test_ridge_penalty_shrinks_towards_the_mean() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 3, generator=g)
    y = x[:, 0] * 2 + 1
    huge = fit_ridge(x, y, lam=1e9)
    assert torch.allclose(huge.predict(x).flatten(), torch.full((50,), float(y.mean()), dtype=torch.float64), atol=1e-6)


def test_logistic_separates_and_is_deterministic() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(300, 4, generator=g)
    y = x[:, 1] - 0.5 * x[:, 3] > 0.2
    one, two = fit_logistic(x, y), fit_logistic(x, y)
    assert torch.equal(one.weight, two.weight) and torch.equal(one.bias, two.bias)
    assert auc(one.decision(x), y) > 0.99
    assert one.weight[1] > 0 and one.weight[3] < 0
    assert one.l2 == pytest.approx(4 / 300)  # lambda = 1 x features, per row
    weak = fit_logistic(x, y, l2=100.0)
    assert weak.weight.abs().max() < 0.01


def test_bootstrap_ci_resamples_subjects_with_a_seed() -> None:
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    values = torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0])
    constant = bootstrap_ci(lambda rows: torch.tensor([5.0]), groups, resamples=20)
    assert constant.tolist() == [[5.0, 5.0]]
    ci = bootstrap_ci(lambda rows: values[rows].mean().reshape(1), groups, resamples=200, seed=3)
    again = bootstrap_ci(lambda rows: values[rows].mean().reshape(1), groups, resamples=200, seed=3)
    assert torch.equal(ci, again)
    assert 1.0 <= ci[0, 0] < 2.5 < ci[0, 1] <= 4.0
    seen = []
    bootstrap_ci(lambda rows: seen.append(rows) or torch.tensor([0.0]), groups, resamples=5)
    assert all(len(r) == 8 and all(int((r == 2 * g).sum()) == int((r == 2 * g + 1).sum()) for g in range(4)) for r in seen)
    nan = bootstrap_ci(lambda rows: torch.tensor([float("nan")]), groups, resamples=5)
    assert torch.isnan(nan).all()


def test_pixel_features_are_grey_and_pooled() -> None:
    images = torch.zeros(2, 3, 64, 64, dtype=torch.uint8)
    images[1] = 255
    f = pixel_features(images, Normalise())
    assert f.shape == (2, 32 * 32)
    assert f[0].eq(-1).all() and f[1].eq(1).all()
    assert pixel_features(images[:, :, :16, :16], Normalise()).shape == (2, 256)


def test_subject_split_official_else_seeded_and_disjoint() -> None:
    records = pd.DataFrame({"subject": ["a", "a", "b", "c", "d"], "split": ["train", "train", "val", "test", "train"]})
    train, test, how = subject_split(records)
    assert how == "official" and train.tolist() == [0, 1, 4] and test.tolist() == [3]
    people = [f"s{i}" for i in range(10) for _ in range(3)]
    flat = pd.DataFrame({"subject": people, "split": "train"})
    train, test, how = subject_split(flat, seed=4)
    assert how == "seeded 70/30"
    assert len({people[i] for i in test}) == 3 and not {people[i] for i in train} & {people[i] for i in test}
    assert subject_split(flat, seed=4)[1].tolist() == test.tolist()
    with pytest.raises(DataError, match="no subject"):
        subject_split(pd.DataFrame({"subject": ["a", None], "split": "train"}))


def test_parse_aus() -> None:
    assert parse_aus("1, 2,au4,2") == [1, 2, 4]
    assert parse_aus([12, 25]) == [12, 25]
    assert parse_aus(None) is None
    with pytest.raises(ConfigError, match="unknown AU 99"):
        parse_aus("1,99")
    with pytest.raises(ConfigError, match="AU numbers separated by commas"):
        parse_aus("brows")


# ---------------------------------------------------------------- on SynthFER, with a tiny trained embedder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ProtoNet conv4-pool embedder trained 200 episodes on 32 px SynthFER (about 5 s)."""
    out = tmp_path_factory.mktemp("probe-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FSFER_CACHE", str(tmp_path_factory.mktemp("probe-cache")))
        rc = run([
            "episode-train", "--data", SPEC, "--image-size", "32", "--method", "protonet", "--backbone", "conv4-pool",
            "--n-way", "3", "--k-shot", "1", "--q-query", "2", "--test-query", "2", "--episodes", "200",
            "--val-every", "200", "--val-episodes", "3", "--test-episodes", "4", "--device", "cpu", "--quiet",
            "--out", str(out),
        ])  # fmt: skip
    assert rc == 0
    return out / "best.pt"


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = run(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def probed(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """``fsfer probe CKPT --data SPEC --json --out DIR``: the JSON object and the folder."""
    folder = tmp_path_factory.mktemp("probe-out") / "probe"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FSFER_CACHE", str(tmp_path_factory.mktemp("probe-cache")))
        rc, stdout, stderr = _cli(["probe", str(checkpoint), "--data", SPEC, "--json", "--out", str(folder)])
    assert rc == 0, stderr
    assert stdout.count("\n") == 1  # exactly one JSON object, nothing else
    return json.loads(stdout), folder


def test_trained_embedder_holds_the_basic_aus_better_than_a_random_one(probed: tuple[dict, Path]) -> None:
    result, _ = probed
    aus = result["aus"]
    r2 = np.mean([aus[f"au{a}"]["r2"] for a in BASIC_AUS])
    r2_random = np.mean([aus[f"au{a}"]["r2_random"] for a in BASIC_AUS])
    # measured: 0.15 against 0.02 (held-out subjects; deterministic on the CPU)
    assert r2 > r2_random + 0.05
    assert result["mean"]["auc"] > result["mean"]["auc_random"]


def test_probe_json_has_every_row_and_the_split(probed: tuple[dict, Path]) -> None:
    result, _ = probed
    assert result["split"] == "official" and result["test_subjects"] == 3 and result["train_subjects"] == 11
    assert result["test_images"] == 3 * 22 * 2 and result["image_size"] == 32 and result["kind"] == "episode-train"
    assert result["features"] == {"trained": 64, "random": 64, "pixels": 1024}
    # AU14 (contempt only) and AU23 (absent from the 3 held-out subjects) cannot be scored, so are not probed
    assert "au14" not in result["aus"] and "au23" not in result["aus"]
    assert set(f"au{a}" for a in BASIC_AUS) <= set(result["aus"])
    for row in result["aus"].values():
        for key in ("r2", "r2_random", "r2_pixels", "auc", "auc_random", "auc_pixels"):
            assert isinstance(row[key], float)
        assert 0 <= row["auc_pixels"] <= 1 and row["ci95"][0] <= row["ci95"][1]
    assert result["aus"]["au1"]["name"] == "inner brow raiser"


def test_probe_out_writes_the_csv_and_a_png(probed: tuple[dict, Path]) -> None:
    result, folder = probed
    with open(folder / "au_probe.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["au"]) for r in rows] == [int(k[2:]) for k in result["aus"]]
    assert float(rows[0]["r2"]) == pytest.approx(result["aus"][f"au{rows[0]['au']}"]["r2"], abs=1e-4)
    png = (folder / "au_probe.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(folder / "au_probe.png") as image:
        assert image.width > 600 and image.height == 750


def test_probe_of_a_folder_written_by_fsfer_synth(checkpoint: Path, tmp_path: Path) -> None:
    folder = tmp_path / "synth"
    assert run(["synth", str(folder), "--subjects", "5", "--per-subject", "1", "--size", "32", "--classes", "basic"]) == 0
    result = probe_aus(checkpoint, data=f"folder:{folder}", aus="1,2,25", resamples=20)
    assert [a.au for a in result.aus] == [1, 2, 25]
    assert result.split == "official" and result.test_subjects == 1 and result.test_images == 14


def test_probe_table_names_the_aus(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["probe", str(checkpoint), "--data", SPEC, "--aus", "26,1", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("AU probe of ") and "3 held-out subjects" in lines[0]
    assert lines[2].split()[:2] == ["26", "jaw"] and lines[3].split()[:4] == ["1", "inner", "brow", "raiser"]


# ---------------------------------------------------------------- bad input: one line, exit 2


def _one_error_line(capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fsfer: error: "), captured.err
    assert all(n in lines[0] for n in needles), lines[0]
    assert captured.out == ""


def test_data_without_au_columns_is_one_line(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    for label in ("happy", "sad"):
        (tmp_path / "faces" / label).mkdir(parents=True)
        Image.new("RGB", (32, 32), (120, 90, 60)).save(tmp_path / "faces" / label / "a.png")
    spec = f"folder:{tmp_path / 'faces'}"
    assert run(["probe", str(checkpoint), "--data", spec]) == 2
    _one_error_line(capsys, spec, "no AU intensity columns", "fsfer synth")


def test_unknown_au_is_one_line(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["probe", str(checkpoint), "--aus", "99"]) == 2
    _one_error_line(capsys, "unknown AU 99")


def test_au_that_does_not_vary_is_one_line(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["probe", str(checkpoint), "--data", SPEC, "--aus", "1,14"]) == 2
    _one_error_line(capsys, "AU14 does not vary", "--aus")


def test_out_that_is_a_file_is_one_line(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("x")
    assert run(["probe", str(checkpoint), "--out", str(tmp_path / "taken")]) == 2
    _one_error_line(capsys, "taken", "not a folder")


def test_missing_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["probe", str(tmp_path / "nope.pt")]) == 2
    _one_error_line(capsys, "nope.pt", "no such checkpoint")
