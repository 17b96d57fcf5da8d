"""The support/query explorer notebook runs headless, and the method comparison benchmark writes its results.

The notebook runs with nbclient on a kernel made from this interpreter (``sys.executable``,
i.e. the venv's python), on its default small SynthFER data, training its own tiny
checkpoint. ``benchmarks/compare_metrics.py --quick`` runs two methods on a tiny SynthFER
setting into ``tmp_path``, so the committed results are never touched.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "support_query_explorer.ipynb"
SCRIPT = ROOT / "benchmarks" / "compare_metrics.py"


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_notebook_is_committed_without_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "strip the notebook's outputs"


def test_notebook_runs_headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ipykernel  # noqa: F401 - the kernel the notebook runs on
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    # a kernel spec pinned to this interpreter, whatever kernels the machine has installed
    kernels = tmp_path / "kernels"
    (kernels / "fsfer-test").mkdir(parents=True)
    (kernels / "fsfer-test" / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fsfer test", "language": "python",
    }))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's own run folder goes here
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny episodes; more threads thrash on shared cores
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    km = KernelManager(kernel_name="fsfer-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(nb, km=km, timeout=240, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell on any error

    cells = _code_cells(nb)
    assert cells[0].outputs[0]["text"].strip() == sys.executable
    for cell in cells:
        assert not [o for o in cell.outputs if o["output_type"] == "error"]

    def images(cell) -> int:
        return sum("image/png" in o.get("data", {}) for o in cell.outputs)

    def text(cell) -> str:
        return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")

    pca = next(c for c in cells if "pca_2d" in c.source)
    assert images(pca) == 1 and "-> 2-D" in text(pca)
    wrong = next(c for c in cells if "misclassified" in c.source)
    assert "accuracy over 10 episodes" in text(wrong)
    assert images(wrong) == 1 or "no query was misclassified" in text(wrong)
    episodes = next(c for c in cells if "show_episode(index" in c.source)
    assert images(episodes) == 3
    assert sum(images(c) for c in cells) >= 7


def _load_script():
    if "compare_metrics" in sys.modules:
        return sys.modules["compare_metrics"]
    spec = importlib.util.spec_from_file_location("compare_metrics", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_metrics"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_compare_metrics_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = _load_script()
    results = tmp_path / "results"
    code = compare.main([
        "--quick", "--protocols", "synth-basic-to-compound", "--methods", "protonet,cosine", "--shots", "1,5",
        "--episodes", "3", "--test-episodes", "6", "--name", "tiny",
        "--results-dir", str(results), "--out-dir", str(tmp_path / "runs"), "--device", "cpu",
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "[4/4] synth-basic-to-compound conv4 cosine" in out and "| protonet |" in out

    with (results / "tiny.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["method"], r["k_shot"]) for r in rows] == [("protonet", "1"), ("cosine", "1"), ("protonet", "5"), ("cosine", "5")]
    assert list(rows[0]) == list(compare.CSV_COLUMNS)
    for r in rows:
        assert r["protocol"] == "synth-basic-to-compound" and r["backbone"] == "conv4" and r["n_way"] == "5"
        assert 0.0 <= float(r["accuracy"]) <= 1.0 and float(r["ci95"]) >= 0.0
        assert r["episodes"] == "6" and r["train_episodes"] == "3" and float(r["train_seconds"]) > 0
        assert (Path(r["run_dir"]) / "best.pt").is_file()
    # every method of a setting replays the same episode file
    for shot in ("1", "5"):
        files = {r["episode_file"] for r in rows if r["k_shot"] == shot}
        assert len(files) == 1 and Path(files.pop()).is_file()

    md = (results / "tiny.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert table[0] == "| protocol | way | backbone | method | 1-shot | 5-shot |"
    assert len(table) == 2 + 2 and all(" ± " in line for line in table[2:])
    assert (results / "tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (ROOT / "benchmarks" / "results" / "tiny.csv").exists()


def test_compare_metrics_seeds_report_the_spread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = _load_script()
    results = tmp_path / "results"
    code = compare.main([
        "--quick", "--protocols", "synth-basic-to-compound", "--methods", "protonet", "--shots", "1",
        "--episodes", "4", "--test-episodes", "6", "--seeds", "2", "--workers", "2", "--name", "seeds",
        "--results-dir", str(results), "--out-dir", str(tmp_path / "runs"), "--device", "cpu",
    ])
    assert code == 0, capsys.readouterr().err
    with (results / "seeds.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["seed"] for r in rows] == ["0", "1"]  # one row per training seed, in order
    assert len({r["episode_file"] for r in rows}) == 1 and len({r["run_dir"] for r in rows}) == 2
    accuracies = [100 * float(r["accuracy"]) for r in rows]
    line = next(x for x in (results / "seeds.md").read_text().splitlines() if x.startswith("| synth"))
    mean = sum(accuracies) / 2
    assert f"{mean:.2f} ± " in line and f"[{min(accuracies):.1f}-{max(accuracies):.1f}]" in line
    assert "mean over 2 training seed(s)" in (results / "seeds.md").read_text()


def test_compare_metrics_pretrain_rows_share_the_episode_file_and_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = _load_script()
    results = tmp_path / "results"
    common = ["--quick", "--protocols", "synth-basic-to-compound", "--shots", "1", "--episodes", "3", "--test-episodes", "6",
              "--name", "pre", "--results-dir", str(results), "--out-dir", str(tmp_path / "runs"), "--device", "cpu"]
    assert compare.main([*common, "--methods", "protonet"]) == 0
    assert compare.main([*common, "--methods", "pretrain+protonet,pretrain+simpleshot,pretrain+crn", "--merge"]) == 0
    out = capsys.readouterr().out
    assert "pretrain+crn 5w1s seed 0" in out and "pretrained 1 epochs + 3 ep 5w1s" in out
    with (results / "pre.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == ["protonet", "pretrain+protonet", "pretrain+simpleshot", "pretrain+crn"]
    assert len({r["episode_file"] for r in rows}) == 1
    assert [r["pretrain_epochs"] for r in rows] == ["0", "1", "1", "1"]
    pre = Path(rows[1]["run_dir"])
    assert (pre / "best.pt").is_file() and (Path(rows[3]["run_dir"]) / "config.toml").read_text().count(str(pre / "best.pt")) == 1
    md = (results / "pre.md").read_text()
    assert "| pretrain+simpleshot |" in md and "`fsfer pretrain`" in md and "With --merge" in md


def test_compare_metrics_picks_literature_settings_for_the_data_given() -> None:
    compare = _load_script()
    args = compare.parse_args(["--data", "rafdb:/nowhere/basic", "--data", "rafdb-compound:/nowhere/compound"])
    plan = compare.make_plan(args, [])
    chosen = {name: (setting, specs) for name, setting, specs in plan.protocols}
    assert list(chosen) == ["crn-rafdb", "cdnet-compound", "rafdb-basic-to-compound"]
    crn, crn_specs = chosen["crn-rafdb"]
    assert (crn.n_way, crn.shots, crn.train_way, crn.train_shot) == (3, (3,), 4, 4)
    assert crn_specs == ["rafdb:/nowhere/basic"]
    cdnet, _ = chosen["cdnet-compound"]
    assert (cdnet.n_way, cdnet.shots, cdnet.q_query) == (5, (1, 5), 16)
    assert plan.image_size == 64 and plan.test_episodes == 600 and plan.name == "compare"
    only_basic = compare.make_plan(compare.parse_args(["--data", "fer2013:/nowhere"]), [])
    assert [p[0] for p in only_basic.protocols] == ["crn-fer2013"]
    default = compare.make_plan(compare.parse_args([]), [])
    assert [p[0] for p in default.protocols] == list(compare.SYNTH_PROTOCOLS) and default.name == "compare_synth"


def test_compare_metrics_on_a_real_dataset_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a FER2013-layout CSV (48x48 pixel strings, labels 0..6, Usage column) of 7 x 40 faces:
    # --data fer2013:FILE picks the CRN protocol with its literature setting (3-way 3-shot, trained 4-way 4-shot)
    rng = np.random.default_rng(0)
    csv_path = tmp_path / "fer2013.csv"
    with csv_path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["emotion", "pixels", "Usage"])
        for label in range(7):
            for i in range(40):
                face = (rng.integers(0, 40, 48 * 48) + 30 * label).clip(0, 255)
                out.writerow([label, " ".join(map(str, face)), "Training" if i < 30 else "PublicTest"])
    compare = _load_script()
    results = tmp_path / "results"
    code = compare.main([
        "--data", f"fer2013:{csv_path}", "--methods", "protonet,cosine", "--episodes", "3", "--test-episodes", "5",
        "--val-episodes", "2", "--image-size", "16", "--name", "real", "--results-dir", str(results),
        "--out-dir", str(tmp_path / "runs"), "--device", "cpu", "--seeds", "1",
    ])
    assert code == 0, capsys.readouterr().err
    with (results / "real.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["protocol"], r["method"], r["n_way"], r["k_shot"]) for r in rows] == [
        ("crn-fer2013", "protonet", "3", "3"), ("crn-fer2013", "cosine", "3", "3")]
    for r in rows:
        assert 0.0 <= float(r["accuracy"]) <= 1.0 and r["episodes"] == "5" and r["data"] == f"fer2013:{csv_path}"
    with Path(rows[0]["episode_file"]).open(newline="") as fh:
        replayed = list(csv.DictReader(fh))
    assert {e["class"] for e in replayed} == {"anger", "disgust", "fear"}  # novel classes only
    assert all(e["item"].startswith("fer2013:") for e in replayed)
