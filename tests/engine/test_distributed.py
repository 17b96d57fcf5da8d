"""DistributedDataParallel on the CPU: torchrun with 2 processes and the gloo backend."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from fsfer.engine.checkpoint import load_checkpoint


def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "fsfer", "episode-train", "--data", "synth?subjects=16,per_subject=1,size=32", "--image-size", "32",
        "--method", "protonet", "--backbone", "conv4-pool", "--n-way", "3", "--k-shot", "1", "--q-query", "2", "--test-query", "2",
        "--episodes", "4", "--val-every", "2", "--val-episodes", "2", "--save-every", "2", "--test-episodes", "3",
        "--device", "cpu", "--out", str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["episode"] == 4
    with (out / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["episode"] for r in rows if r["phase"] == "train"] == ["1", "2", "3", "4"]  # rank 0 alone writes
    assert (out / "results.json").is_file()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_torchrun_pretrain_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "ddp-pretrain"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "fsfer", "pretrain", "--data", "synth?subjects=16,per_subject=1,size=32", "--image-size", "32",
        "--backbone", "conv4-pool", "--epochs", "2", "--batch-size", "16", "--test-way", "3", "--test-query", "2",
        "--val-episodes", "2", "--test-episodes", "3", "--device", "cpu", "--out", str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["epoch"] == 2 and ckpt["kind"] == "pretrain"
    with (out / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows if r["phase"] == "train"] == ["1", "2"]
    assert (out / "results.json").is_file()
