"""Throughput of fsfer against easyfsl and learn2learn, measured in one run.

1. Sampling: episodes/s of fsfer's sampler, a learn2learn Taskset and an easyfsl
   TaskSampler + DataLoader over the same in-memory tensors (see sampler_speed.py).
2. Training: episodes/s of fsfer's ``relation``/``crn`` method and easyfsl's
   RelationNetworks on the same conv4 backbone (the CRN/RelationNet encoder), the
   same relation module and the same episodes (5-way 1-shot 15-query, 64x64).
3. Evaluation: episodes/s of fsfer's cached evaluation (each image embedded once)
   against easyfsl's per-episode evaluation, on the same fixed episodes.

Ratios are printed and written to ``benchmarks/results/throughput.json``.

    .venv/bin/python benchmarks/throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import easyfsl_sampler_shim, median_rates  # noqa: E402
from sampler_speed import sampler_rates  # noqa: E402

from fsfer.engine.evaluate import evaluate  # noqa: E402
from fsfer.episodes import EpisodeSampler  # noqa: E402
from fsfer.models import build_embedder, build_method  # noqa: E402
from fsfer.store import from_tensors  # noqa: E402
from fsfer.transforms import Normalise  # noqa: E402


class PairScores(nn.Module):
    """fsfer's relation module behind easyfsl's interface (concatenated pairs -> scores)."""

    def __init__(self, relation) -> None:
        super().__init__()
        self.relation = relation

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.relation.pair_scores(pairs)


def train_rates(episodes: list, method_name: str, steps: int, repeats: int = 3) -> dict[str, float]:
    """Training episodes/s of fsfer's method and of easyfsl's RelationNetworks, same backbone and relation module.

    easyfsl's RelationNetworks gets fsfer's relation module (``pair_scores`` on every
    concatenated pair, as easyfsl does); fsfer's method uses its own forward. Rounds of
    both are interleaved and the median is reported.
    """
    from easyfsl.methods import RelationNetworks

    torch.manual_seed(0)
    ours = build_method(method_name, build_embedder("conv4"), image_size=64)
    theirs = RelationNetworks(build_embedder("conv4"), feature_dimension=64, relation_module=PairScores(ours.relation))
    steppers = {}
    for name, model in (("fsfer", ours), ("easyfsl", theirs)):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()

        def step(ep, name=name, model=model, opt=opt) -> None:
            if name == "fsfer":
                _, losses = model(ep)
                loss = sum(losses.values())
            else:
                model.process_support_set(ep.support_images, ep.support_labels)
                scores = model(ep.query_images)
                loss = nn.functional.mse_loss(scores, nn.functional.one_hot(ep.query_labels, scores.shape[1]).float())
            opt.zero_grad()
            loss.backward()
            opt.step()

        step(episodes[0])
        steppers[name] = step
    return median_rates({name: (lambda i, f=f: f(episodes[i % len(episodes)])) for name, f in steppers.items()}, steps, repeats)


def eval_rates(store, indices: list, method_name: str) -> dict[str, float]:
    """Evaluation episodes/s: fsfer's cached evaluation against easyfsl's per-episode loop."""
    from easyfsl.methods import RelationNetworks

    from fsfer.episodes import gather

    torch.manual_seed(0)
    ours = build_method(method_name, build_embedder("conv4"), image_size=64)
    theirs = RelationNetworks(build_embedder("conv4"), feature_dimension=64, relation_module=PairScores(ours.relation)).eval()
    norm = Normalise()
    t0 = time.perf_counter()
    result = evaluate(ours, store, indices, transform=norm)
    fsfer_rate = len(indices) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    with torch.no_grad():
        for idx in indices:
            ep = gather(store.images, idx, norm)
            theirs.process_support_set(ep.support_images, ep.support_labels)
            theirs(ep.query_images).argmax(1)
    easy_rate = len(indices) / (time.perf_counter() - t0)
    return {"fsfer": fsfer_rate, "easyfsl": easy_rate, "fsfer_accuracy_untrained": result.accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes (a smoke run)")
    parser.add_argument("--method", default="crn", choices=["crn", "relation"])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "throughput.json")
    args = parser.parse_args()
    easyfsl_sampler_shim()
    quick = args.quick
    report: dict[str, dict] = {"setting": {"torch_threads": torch.get_num_threads(), "method": args.method, "quick": quick}}

    report["sampling"] = sampler_rates(episodes=50 if quick else 300, repeats=3 if quick else 5)

    torch.manual_seed(0)
    n_classes, per_class = 20, 40
    images = torch.randint(0, 256, (n_classes * per_class, 3, 64, 64), dtype=torch.uint8)
    store = from_tensors(images, torch.arange(n_classes).repeat_interleave(per_class), [f"c{i}" for i in range(n_classes)])
    sampler = EpisodeSampler(store, None, 5, 1, 15, seed=0, episodes=2000, transform=Normalise())
    train_eps = [sampler[i] for i in range(8)]
    report["training"] = train_rates(train_eps, args.method, steps=3 if quick else 10, repeats=1 if quick else 3)
    n_eval = 100 if quick else 1000
    report["evaluation"] = eval_rates(store, [sampler.index(i) for i in range(n_eval)], args.method)
    report["evaluation"]["episodes"] = n_eval

    s, t, e = report["sampling"], report["training"], report["evaluation"]
    print(f"sampling   fsfer {s['fsfer']:8.1f}/s  learn2learn {s['learn2learn']:8.1f}/s  easyfsl {s['easyfsl']:8.1f}/s"
          f"  -> {s['fsfer_vs_learn2learn']:.1f}x l2l, {s['fsfer_vs_easyfsl']:.1f}x easyfsl")
    print(f"training   fsfer {t['fsfer']:8.2f}/s  easyfsl {t['easyfsl']:8.2f}/s  -> {t['fsfer'] / t['easyfsl']:.2f}x ({args.method}/conv4, 5-way 1-shot 15-query, 64x64)")
    print(f"evaluation fsfer {e['fsfer']:8.1f}/s  easyfsl {e['easyfsl']:8.1f}/s  -> {e['fsfer'] / e['easyfsl']:.1f}x ({n_eval} episodes, cached embeddings)")
    report["ratios"] = {
        "sampling_vs_learn2learn": s["fsfer_vs_learn2learn"],
        "sampling_vs_easyfsl": s["fsfer_vs_easyfsl"],
        "training_vs_easyfsl": t["fsfer"] / t["easyfsl"],
        "evaluation_vs_easyfsl": e["fsfer"] / e["easyfsl"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
