"""Identity leakage: the same checkpoints on leaky and on subject-disjoint episodes of the same split.

For each shot count, two episode sets are drawn from one seed over a protocol split: one
that lets a class's support and query share a person, and the subject-disjoint one fsfer
draws by default. Both have the same ways and the same support in every episode (only
the queries differ), so the per-episode difference is a paired measurement. Each
checkpoint, and a nearest class mean on raw pixels, is evaluated on both. Writes
``benchmarks/results/identity_leakage.{csv,md}``.

    .venv/bin/fsfer episode-train --out runs/leak-crn                      # the demo's CRN
    .venv/bin/fsfer episode-train --method protonet --out runs/leak-protonet
    .venv/bin/python benchmarks/identity_leakage.py runs/leak-crn/best.pt runs/leak-protonet/best.pt
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import torch

from fsfer.engine.checkpoint import checkpoint_normalise
from fsfer.engine.evaluate import evaluate
from fsfer.engine.predict import load_model
from fsfer.episodes import EpisodeSampler
from fsfer.protocol_data import load_protocol_data
from fsfer.protocols import load_protocol
from fsfer.transforms import Normalise

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("model", "n_way", "k_shot", "q_query", "episodes", "shared_queries", "leaky", "leaky_ci95",
           "disjoint", "disjoint_ci95", "gap", "gap_ci95")


def shared_share(store, indices) -> float:
    """The share of queries whose subject is also in their class's support."""
    subjects = store.records["subject"].astype(str).to_numpy()
    shared = total = 0
    for e in indices:
        for way in range(int(e.classes.numel())):
            q = subjects[e.query[e.query_labels == way].numpy()]
            shared += int(np.isin(q, subjects[e.support[e.support_labels == way].numpy()]).sum())
            total += q.size
    return shared / total


@torch.no_grad()
def pixel_accuracies(store, indices, normalise) -> list[float]:
    """Per-episode accuracy of the nearest class mean on raw (normalised) pixels."""
    feats = normalise(store.images).flatten(1)
    out = []
    for e in indices:
        n_way = int(e.classes.numel())
        support = feats[e.support]
        protos = torch.stack([support[e.support_labels == w].mean(0) for w in range(n_way)])
        pred = torch.cdist(feats[e.query], protos).argmin(1)
        out.append(float((pred == e.query_labels).float().mean()))
    return out


def mean_ci(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), 1.96 * float(a.std()) / math.sqrt(a.size)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", help="best.pt files (all of one image size)")
    parser.add_argument("--data", action="append", help="data spec(s) (default: the protocol's, SynthFER)")
    parser.add_argument("--protocol", default="synth-basic-to-compound")
    parser.add_argument("--split", default="novel")
    parser.add_argument("--image-size", type=int, default=0, help="default: the checkpoints' (else 64)")
    parser.add_argument("--n-way", type=int, default=5)
    parser.add_argument("--shots", default="1,5")
    parser.add_argument("--q-query", type=int, default=15)
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="identity_leakage")
    parser.add_argument("--results-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    models = [(Path(c), *load_model(c, "cpu")) for c in args.checkpoints]
    sizes = {int(ckpt["image_size"]) for _, _, ckpt in models}
    if len(sizes) > 1:
        parser.error(f"the checkpoints have different image sizes ({sorted(sizes)}); give them one at a time")
    size = args.image_size or (sizes.pop() if sizes else 64)
    pdata = load_protocol_data(load_protocol(args.protocol), args.data, size, progress=True)
    normalise = Normalise()
    rows = []
    for shot in (int(s) for s in args.shots.split(",")):
        sets = {}
        for disjoint in (False, True):
            sampler = EpisodeSampler(pdata.store, pdata.classes(args.split), args.n_way, shot, args.q_query, args.seed,
                                     episodes=args.episodes, indices=pdata.rows[args.split], allow_small=True,
                                     disjoint_subjects=disjoint)
            sets[disjoint] = [sampler.index(i) for i in range(args.episodes)]
        share = shared_share(pdata.store, sets[False])
        scored = [("pixels (nearest class mean)", {d: pixel_accuracies(pdata.store, sets[d], normalise) for d in sets})]
        for path, model, ckpt in models:
            norm = checkpoint_normalise(ckpt)
            name = f"{ckpt['config']['method']}/{ckpt['config']['backbone']} ({path.parent.name})"
            scored.append((name, {d: evaluate(model, pdata.store, sets[d], transform=norm).episode_accuracies for d in sets}))
        for name, acc in scored:
            (leaky, leaky_ci), (disj, disj_ci) = mean_ci(acc[False]), mean_ci(acc[True])
            gap, gap_ci = mean_ci(np.asarray(acc[False]) - np.asarray(acc[True]))
            rows.append({"model": name, "n_way": args.n_way, "k_shot": shot, "q_query": args.q_query,
                         "episodes": args.episodes, "shared_queries": round(share, 4),
                         "leaky": round(leaky, 4), "leaky_ci95": round(leaky_ci, 4), "disjoint": round(disj, 4),
                         "disjoint_ci95": round(disj_ci, 4), "gap": round(gap, 4), "gap_ci95": round(gap_ci, 4)})
            print(f"{shot}-shot {name:45s} leaky {100 * leaky:5.2f} +- {100 * leaky_ci:.2f}  "
                  f"disjoint {100 * disj:5.2f} +- {100 * disj_ci:.2f}  gap {100 * gap:+.2f} +- {100 * gap_ci:.2f} "
                  f"({100 * share:.0f}% of leaky queries share a support subject)")
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{args.name}.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"Identity leakage on {args.protocol}/{args.split} ({' + '.join(pdata.specs)}, {size} px): "
             f"{args.n_way}-way, {args.q_query} queries, {args.episodes} episodes per set, seed {args.seed}; "
             "accuracy in % +- 95% CI over episodes; gap = leaky - disjoint, paired per episode.", "",
             "| model | shots | queries sharing a support subject (leaky) | leaky | subject-disjoint | gap |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['k_shot']} | {100 * r['shared_queries']:.0f}% | {100 * r['leaky']:.2f} +- "
                     f"{100 * r['leaky_ci95']:.2f} | {100 * r['disjoint']:.2f} +- {100 * r['disjoint_ci95']:.2f} | "
                     f"{100 * r['gap']:+.2f} +- {100 * r['gap_ci95']:.2f} |")
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
