"""Zero-shot compound expressions composed from basic ones, against real compound shots, on the same queries.

For every run of ``benchmarks/compare_metrics.py`` on ``synth-basic-to-compound`` found
under ``--runs`` (the metric methods, every training seed, 1- and 5-shot), the run's
``best.pt`` scores the benchmark's shared, subject-disjoint test episode file three ways:

- ``ordinary``: the file's own support, K real compound images per class (the compare table);
- ``mean``: no compound image at all; each compound's prototype (class map, ...) is the
  mean of its two basic components' (Du et al. 2014), each from K basic images of the
  training subjects (:func:`fsfer.engine.compose.evaluate_composed`);
- ``au``: the same, each component weighted by the action units it shares with the compound.

Writes ``benchmarks/results/compose.csv`` and ``.md`` (mean over seeds +- the mean
episode CI). Run after ``compare_metrics.py`` (it needs its run folders)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compose.py
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("protonet", "cosine", "matching", "relation", "crn", "pretrain")


def main(argv: list[str] | None = None) -> int:
    import torch

    from fsfer.engine.compose import evaluate_composed
    from fsfer.engine.evaluate import evaluate
    from fsfer.engine.checkpoint import checkpoint_normalise
    from fsfer.engine.predict import load_model
    from fsfer.episodes.fixed import load_episodes
    from fsfer.protocol_data import load_protocol_data
    from fsfer.protocols import load_protocol

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/compare/compare_synth", help="compare_metrics.py's --out-dir")
    p.add_argument("--name", default="compose")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    root = Path(args.runs)
    protocol = load_protocol("synth-basic-to-compound")
    pdata = None
    rows = []
    t0 = time.perf_counter()
    for shot in (1, 5):
        file = root / "episodes" / f"synth-basic-to-compound-5w{shot}s-15q-300ep.csv"
        if not file.is_file():
            print(f"compose: no {file}; run benchmarks/compare_metrics.py first", file=sys.stderr)
            return 2
        for method in METHODS:
            for seed_dir in sorted((root / "synth-basic-to-compound" / "conv4" / f"{method}-5w{shot}s").glob("seed*")):
                ckpt = seed_dir / ("pretrain/best.pt" if method == "pretrain" else "best.pt")
                if not ckpt.is_file():
                    continue
                model, saved = load_model(ckpt, "cpu", "simpleshot" if method == "pretrain" else None)
                if pdata is None:
                    pdata = load_protocol_data(protocol, ["synth"], int(saved["image_size"]))
                episodes = load_episodes(file, pdata.store)
                norm = checkpoint_normalise(saved)
                ordinary = evaluate(model, pdata.store, episodes, transform=norm)
                row = {"method": "pretrain+simpleshot" if method == "pretrain" else method, "seed": seed_dir.name[4:],
                       "k_shot": shot, "ordinary": ordinary.accuracy, "ordinary_ci95": ordinary.ci95}
                for weighting in ("mean", "au"):
                    composed = evaluate_composed(model, pdata.store, episodes, pdata.rows["base"], transform=norm,
                                                 weighting=weighting)
                    row[weighting], row[f"{weighting}_ci95"] = composed.accuracy, composed.ci95
                rows.append(row)
                print(f"{row['method']:20s} {shot}-shot seed {row['seed']}: ordinary {100 * row['ordinary']:.2f}%, "
                      f"composed mean {100 * row['mean']:.2f}%, au {100 * row['au']:.2f}%", flush=True)
    wall = time.perf_counter() - t0
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"{args.name}.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Compound expressions composed from basic ones (zero-shot) against real compound shots",
        "",
        "synth-basic-to-compound, 5-way, the compare benchmark's 300 shared subject-disjoint test episodes per shot; "
        "each cell the mean over the training seeds +- the mean 95% episode CI. `ordinary`: K real compound images "
        "per class; `composed`: no compound image, each compound from K images of each of its two basic components "
        "(training subjects), their mean or AU-weighted. Chance 20%.",
        "",
        "| method | shots K | ordinary (K compound images) | composed, mean (K basic images per component) | composed, AU-weighted |",
        "|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in rows):
        for shot in (1, 5):
            mine = [r for r in rows if r["method"] == method and r["k_shot"] == shot]
            if not mine:
                continue
            cell = lambda k: (f"{100 * statistics.fmean(r[k] for r in mine):.2f} +- "
                              f"{100 * statistics.fmean(r[k + '_ci95'] for r in mine):.2f}")
            lines.append(f"| {method} | {shot} | {cell('ordinary')} | {cell('mean')} | {cell('au')} |")
    lines += ["", f"Command: `python benchmarks/compose.py`; {wall / 60:.1f} min."]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
