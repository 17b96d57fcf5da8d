"""Training speed of the FER backbones as few-shot embedders: forward + backward episodes/s.

For each backbone (``resnet18``, ``irse50``, ``dan``, ``dacl``, ``vtff``, ``transfer``, and
``conv4`` / ``resnet12`` for reference) and each method (``protonet``, ``crn``), one
training step on a 5-way 1-shot 5-query episode (5 support + 25 query images of random
floats) is: the method's forward (the embedder's auxiliary losses included), the summed
loss's backward and an SGD step. Each rate is the median over ``--repeats`` timed rounds
of ``--episodes`` steps, after ``--warmup`` steps. On the CPU at ``--cpu-size`` px (the
papers' 112/224 px are far too slow for a shared 2-core machine) with ``--threads``
intra-op threads; on CUDA (when present, ``--device cuda`` or ``all``) at the papers' own
input sizes unless ``--cuda-size`` is given, fp32.

Writes ``benchmarks/results/backbone_speed.json`` (merged with the entries already there
for other devices or sizes) and the table ``benchmarks/results/backbone_speed.md``.

    .venv/bin/python benchmarks/backbone_speed.py [--device cpu|cuda|all] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from fsfer.episodes import Episode
from fsfer.models import build_embedder, build_method
from fsfer.models.embedders.profile import PAPERS, profile_embedder

BACKBONES = ("conv4", "resnet12", "resnet18", "irse50", "dan", "dacl", "vtff", "transfer")
METHODS = ("protonet", "crn")
N_WAY, K_SHOT, N_QUERY = 5, 1, 5
RESULTS = Path(__file__).resolve().parent / "results"


def make_episode(size: int, device: torch.device, seed: int) -> Episode:
    """A 5-way 1-shot 5-query episode of random float images on ``device`` (global ids 0..4)."""
    g = torch.Generator().manual_seed(seed)
    support = torch.randn(N_WAY * K_SHOT, 3, size, size, generator=g)
    query = torch.randn(N_WAY * N_QUERY, 3, size, size, generator=g)
    episode = Episode(
        support,
        torch.arange(N_WAY).repeat_interleave(K_SHOT),
        query,
        torch.arange(N_WAY).repeat_interleave(N_QUERY),
        torch.arange(N_WAY),
    )
    return episode.to(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def episodes_per_second(
    backbone: str, method_name: str, size: int, device: torch.device, episodes: int, warmup: int, repeats: int
) -> float:
    """Median training episodes/s of ``method_name`` on ``backbone`` (forward, backward, SGD step)."""
    torch.manual_seed(0)
    method = build_method(method_name, build_embedder(backbone), image_size=size, n_way=N_WAY).to(device).train()
    optimiser = torch.optim.SGD(method.parameters(), lr=1e-3)
    batch = [make_episode(size, device, seed) for seed in range(4)]

    def step(i: int) -> None:
        _, losses = method(batch[i % len(batch)])
        optimiser.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(method.parameters(), 0.5)
        optimiser.step()

    for i in range(warmup):
        step(i)
    sync(device)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(episodes):
            step(i)
        sync(device)
        rates.append(episodes / (time.perf_counter() - start))
    return statistics.median(rates)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    devices = []
    if args.device in ("cpu", "all"):
        devices.append(torch.device("cpu"))
    if args.device in ("cuda", "all"):
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
        elif args.device == "cuda":
            raise SystemExit("--device cuda: no CUDA device here")
    rows = []
    for device in devices:
        for backbone in args.backbones:
            if device.type == "cpu":
                size = args.cpu_size
            else:
                size = args.cuda_size or (PAPERS[backbone].input_size if backbone in PAPERS else 84)
            profile = profile_embedder(backbone, size)
            row: dict[str, Any] = {
                "device": device.type if device.type == "cpu" else torch.cuda.get_device_name(device),
                "device_type": device.type,
                "backbone": backbone,
                "image_size": size,
                "params": profile.params,
                "macs_per_image": profile.macs,
                "output_shape": list(profile.output_shape),
            }
            for method_name in args.methods:
                rate = episodes_per_second(backbone, method_name, size, device, args.episodes, args.warmup, args.repeats)
                row[f"{method_name}_episodes_per_s"] = rate
                print(f"{row['device']:>10} {backbone:>9} {size:>4}px {method_name:>8}: {rate:8.2f} episodes/s", flush=True)
            rows.append(row)
    return rows


def merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` rows replaced by ``new`` ones with the same (device, backbone, image size), new ones added."""
    key = lambda r: (r["device"], r["backbone"], r["image_size"])  # noqa: E731
    fresh = {key(r) for r in new}
    return [r for r in old if key(r) not in fresh] + new


def table(rows: list[dict[str, Any]], setting: dict[str, Any]) -> str:
    """The markdown table of ``rows``."""
    lines = [
        "# Backbone training speed (forward + backward + SGD step)",
        "",
        f"5-way 1-shot 5-query episodes (5 + 25 images) of random floats; median of {setting['repeats']} rounds of "
        f"{setting['episodes']} episodes after {setting['warmup']} warm-up episode(s). CPU: {setting['cpu']} with "
        f"{setting['torch_threads']} torch thread(s), a shared machine (rates are indicative). MACs: per image at "
        "the row's input size (FlopCounterMode, MACs = FLOPs / 2). torch " + setting["torch"] + ".",
        "",
        "| device | backbone | input | params | GMACs / image | output | protonet ep/s | crn ep/s |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        shape = "x".join(str(s) for s in r["output_shape"])
        rates = [f"{r[f'{m}_episodes_per_s']:.2f}" if f"{m}_episodes_per_s" in r else "-" for m in METHODS]
        lines.append(
            f"| {r['device']} | {r['backbone']} | {r['image_size']} | {r['params'] / 1e6:.2f}M | "
            f"{r['macs_per_image'] / 1e9:.3f} | {shape} | {rates[0]} | {rates[1]} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all")
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--cpu-size", type=int, default=32, help="CPU input side (px)")
    parser.add_argument("--cuda-size", type=int, default=0, help="CUDA input side (px); 0: each paper's own")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on the CPU")
    parser.add_argument("--quick", action="store_true", help="2 episodes x 1 round after 1 warm-up")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.warmup, args.repeats = 2, 1, 1
    torch.set_num_threads(args.threads)
    rows = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "backbone_speed.json"
    old = json.loads(json_path.read_text())["results"] if json_path.exists() else []
    setting = {
        "episode": f"{N_WAY}-way {K_SHOT}-shot {N_QUERY}-query",
        "episodes": args.episodes,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "torch_threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "optimiser": "SGD lr 1e-3, grad clip 0.5",
    }
    for row in rows:  # each row keeps its own timing setting (runs on other devices are merged in)
        row["timing"] = {k: setting[k] for k in ("episodes", "warmup", "repeats", "torch_threads")}
    results = merge(old, rows)
    json_path.write_text(json.dumps({"setting": setting, "results": results}, indent=2) + "\n")
    (args.out / "backbone_speed.md").write_text(table(results, setting))
    print(table(results, setting))


if __name__ == "__main__":
    main()
