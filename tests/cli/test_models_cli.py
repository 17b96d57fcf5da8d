"""``fsfer models``: list, info (human and --json) against the papers' figures, bad names (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.models import TyperInfo

from fsfer import cli
from fsfer.cli import models as models_cli
from fsfer.cli import run
from fsfer.models import all_embedders


@pytest.fixture(autouse=True)
def _models_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register ``fsfer models`` for the test when the CLI does not have it yet (the lead registers it)."""
    if not any(group.name == "models" for group in cli.app.registered_groups):
        monkeypatch.setattr(cli.app, "registered_groups", [*cli.app.registered_groups, TyperInfo(models_cli.app, name="models")])


def test_list_has_one_line_per_embedder(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == list(all_embedders())
    assert {"conv4", "conv4-pool", "resnet12", "resnet18", "irse50", "dan", "dacl", "vtff", "transfer"} <= set(names)
    by_name = {line.split()[0]: line for line in lines}
    assert by_name["dan"].split()[1] == "19.72M" and "DAN" in by_name["dan"]
    assert by_name["resnet18"].split()[1] == "11.18M"
    assert by_name["transfer"].split()[1] == "65.21M"


def test_info_json_for_dan(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "info", "dan", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"name", "params", "macs", "image_size", "output_shape", "paper"} <= set(info)
    assert info["name"] == "dan" and info["image_size"] == 224 and info["output_shape"] == [512, 1, 1]
    assert info["params"] == 19_724_224 and info["params_aux"] == 8 * 512  # the embedder holds the centres
    assert abs(info["macs"] - 2.23e9) / 2.23e9 < 0.005
    assert info["paper"]["params"] == 19_720_000 and info["paper"]["macs"] == 2_230_000_000
    assert "FLOPs / 2" in info["macs_counting"]


def test_info_json_at_another_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "info", "transfer", "--image-size", "112", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 65_212_486 and info["output_shape"] == [768, 1, 1]
    assert abs(info["macs"] - 15.3e9) / 15.3e9 < 0.005 and info["macs_by_op"]["bmm"] > 0  # attention matmuls
    assert run(["models", "info", "resnet18", "--image-size", "112", "--json"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["image_size"] == 112 and small["output_shape"] == [512, 4, 4]
    assert run(["models", "info", "conv4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["paper"]["params"] is None


def test_info_human_shows_the_paper_beside(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "info", "vtff"]) == 0
    out = capsys.readouterr().out
    assert "parameters" in out and "MACs" in out and "paper" in out and "unverified" in out
    assert "768 x 1 x 1" in out


def test_unknown_name_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "info", "vgg16"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "vgg16" in lines[0] and "dan" in lines[0] and "transfer" in lines[0]


def test_too_small_an_image_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "info", "resnet12", "--image-size", "4"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _list_in_a_fresh_python() -> tuple[str, str]:
    """``fsfer models list`` in a new interpreter (same FSFER_CACHE); its stdout, and whether it imported torch."""
    code = (
        "import sys; from fsfer.cli import run; status = run(['models', 'list']); "
        "print('torch imported:', 'torch' in sys.modules); sys.exit(status)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out, _, torch_line = done.stdout.rstrip("\n").rpartition("\n")
    return out + "\n", torch_line


def test_list_a_second_time_reads_the_counts_without_loading_torch(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "list"]) == 0
    first = capsys.readouterr()
    assert "counting the embedders' parameters" in first.err  # the slow first list says what it is doing
    out, torch_line = _list_in_a_fresh_python()
    assert out == first.out  # the same table, number for number
    assert torch_line == "torch imported: False"


def test_list_recounts_when_its_cache_is_unreadable(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "list"]) == 0
    first = capsys.readouterr().out
    cache = models_cli.list_cache_file(models_cli.list_key())
    assert cache.is_file()
    cache.write_text("{not json")
    assert run(["models", "list"]) == 0
    again = capsys.readouterr()
    assert again.out == first and "counting" in again.err
    assert models_cli.read_list_cache(cache) is not None  # rewritten
