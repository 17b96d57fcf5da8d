"""CRN ablation: each part of the Convolutional Relation Network switched on and off, over training seeds.

Every row trains on the same protocol, replays the same fixed, subject-disjoint test
episode file (one per protocol and shot) and is trained with ``--seeds`` seeds, so a row
differs from the default only in what it names. Rows (``[method_options]`` in brackets):

- ``crn, (a)``: CRN with reading (a) [``js_on = "encoder"``], the base of the rows below it:
  depth average pooling + relation loss + 0.5 x the JS distance between each class map and
  each query map of the encoder, temperature 1 (CRN's default before fsfer 0.3);
- ``DAP -> sum`` [``pool = "sum"``]: RelationNet's summed shots instead of DAP (5-shot only:
  with one shot the sum is the mean);
- ``lambda_dist`` 0 (the distance loss off), 0.1, 0.25, 1 (the base has 0.5);
- ``temperature`` 0.25 and 4 (the base has 1) of the softmax that makes maps distributions;
- the other readings of the review's garbled formula: (b) [``js_pairs = "class-class"``]
  class map vs class map; (c) [``js_over = "channels"``] distributions over channels of
  spatially pooled maps; (d) [``js_on = "relation"``] the loss on what the relation module's
  first block makes of each map, chosen as CRN's default by this table's validation column;
- ``relation`` (RelationNet, summed shots) and ``relation, mean`` [``pool = "mean"``]
  (averaged shots, 5-shot only), which separate "DAP" from "CRN".

Outputs in ``benchmarks/results/``: ``ablate_crn.csv`` (a row per run and seed: test accuracy
and CI, best validation accuracy), ``ablate_crn.md`` (test mean over seeds +- episode CI
[lowest-highest seed], and the validation accuracy that chooses the defaults) and
``ablate_crn.png``. Defaults are chosen on validation, never on the test episodes.

    .venv/bin/python benchmarks/ablate_crn.py --workers 2            # SynthFER, both protocols, 3 seeds
    .venv/bin/python benchmarks/ablate_crn.py --data rafdb:/data/RAF-DB/basic --protocols crn-rafdb
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _jobs and compare_metrics, beside this script

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SYNTH_PROTOCOLS = ("synth-basic-to-compound", "synth-lab-to-wild")
#: (row name, method, method options, the shots it runs at: None = all). Every option that a row
#: keeps from the base is written out, so a row measures the same thing whatever the defaults are:
#: the base is reading (a) on the encoder's maps, lambda 0.5, temperature 1 (CRN's default before
#: fsfer 0.3; this table chose reading (d) as the default since).
ENCODER = {"js_on": "encoder"}
VARIANTS: tuple[tuple[str, str, dict, tuple[int, ...] | None], ...] = (
    ("crn, (a) class vs query on the encoder's maps", "crn", {**ENCODER}, None),
    ("crn (a), DAP -> sum", "crn", {**ENCODER, "pool": "sum"}, (5,)),
    ("crn (a), lambda_dist 0 (no distance loss)", "crn", {**ENCODER, "lambda_dist": 0.0}, None),
    ("crn (a), lambda_dist 0.1", "crn", {**ENCODER, "lambda_dist": 0.1}, None),
    ("crn (a), lambda_dist 0.25", "crn", {**ENCODER, "lambda_dist": 0.25}, None),
    ("crn (a), lambda_dist 1", "crn", {**ENCODER, "lambda_dist": 1.0}, None),
    ("crn (a), temperature 0.25", "crn", {**ENCODER, "temperature": 0.25}, None),
    ("crn (a), temperature 4", "crn", {**ENCODER, "temperature": 4.0}, None),
    ("crn, (b) class map vs class map", "crn", {**ENCODER, "js_pairs": "class-class"}, None),
    ("crn, (c) over channels", "crn", {**ENCODER, "js_over": "channels"}, None),
    ("crn, (d) on the relation module (the default)", "crn", {"js_on": "relation"}, None),
    ("relation (summed shots)", "relation", {}, None),
    ("relation, mean (averaged shots)", "relation", {"pool": "mean"}, (5,)),
)
CSV_COLUMNS = ("variant", "method", "options", "protocol", "seed", "n_way", "k_shot", "q_query", "accuracy", "ci95", "episodes",
               "best_val", "train_seconds", "eval_seconds", "train_episodes", "image_size", "episode_file", "run_dir")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocols", help=f"comma-separated protocols (default {','.join(SYNTH_PROTOCOLS)})")
    p.add_argument("--data", action="append", metavar="SPEC", help="data spec (repeatable); default SynthFER")
    p.add_argument("--variants", help="comma-separated row numbers (0-based) to run (default all)")
    p.add_argument("--shots", default="1,5", help="test shots (default 1,5); training uses the same shot")
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--q-query", type=int, default=15)
    p.add_argument("--seeds", type=int, default=3, help="training seeds per row (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the test episodes and the first training seed")
    p.add_argument("--episodes", type=int, default=400, help="training episodes per run (default 400)")
    p.add_argument("--test-episodes", type=int, default=300)
    p.add_argument("--val-episodes", type=int, default=50)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=1, help="runs at once, one process and one thread each")
    p.add_argument("--device", default="cpu")
    p.add_argument("--name", default="ablate_crn")
    p.add_argument("--out-dir", help="run folders (default runs/ablate/NAME)")
    p.add_argument("--results-dir", default=str(RESULTS_DIR))
    p.add_argument("--from-csv", help="draw NAME.md and NAME.png again from this CSV of an earlier run (trains nothing)")
    return p.parse_args(argv)


def read_rows(path: str | Path) -> list[dict]:
    """The rows of an ``ablate_crn.csv``, with numbers as numbers."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for key in ("seed", "n_way", "k_shot", "episodes", "train_episodes", "image_size", "q_query"):
            if key in r:
                r[key] = int(r[key])
        for key in ("accuracy", "ci95", "best_val", "train_seconds", "eval_seconds"):
            r[key] = float(r[key])
    return rows


def plan_jobs(args: argparse.Namespace) -> list:
    """Every (protocol, shot, variant, seed) as a job; one fixed test file per protocol and shot."""
    from _jobs import Job
    from compare_metrics import make_episode_file

    from fsfer.protocol_data import load_protocol_data
    from fsfer.protocols import load_protocol

    protocols = [p.strip() for p in (args.protocols or ",".join(SYNTH_PROTOCOLS)).split(",") if p.strip()]
    shots = [int(s) for s in args.shots.split(",")]
    chosen = [int(v) for v in args.variants.split(",")] if args.variants else range(len(VARIANTS))
    out_dir = Path(args.out_dir or Path("runs") / "ablate" / args.name)
    jobs = []
    for name in protocols:
        specs = list(args.data or [])
        index = load_protocol_data(load_protocol(name), specs or None, args.image_size, decode=False)
        stem = Path(name).stem
        for shot in shots:
            file = out_dir / "episodes" / f"{stem}-{args.n_way}w{shot}s-{args.q_query}q-{args.test_episodes}ep.csv"
            make_episode_file(file, index, args.n_way, shot, args.q_query, args.test_episodes, args.seed)
            for v in chosen:
                variant, method, options, only = VARIANTS[v]
                if only is not None and shot not in only:
                    continue
                for seed in range(args.seed, args.seed + args.seeds):
                    run_dir = out_dir / stem / f"{args.n_way}w{shot}s" / f"v{v:02d}-{method}" / f"seed{seed}"
                    config = dict(
                        data=specs, protocol=name, method=method, backbone="conv4", method_options=dict(options),
                        n_way=args.n_way, k_shot=shot, q_query=5, episodes=args.episodes, image_size=args.image_size,
                        device=args.device, seed=seed, val_every=max(1, math.ceil(args.episodes / 3)),
                        val_episodes=args.val_episodes, save_every=args.episodes, test_episodes=10,
                        test_way=args.n_way, test_shot=shot, test_query=args.q_query, allow_small=True, out=str(run_dir),
                    )
                    key = {"variant": variant, "method": method,
                           "options": " ".join(f"{k}={v}" for k, v in options.items()), "protocol": stem,
                           "seed": seed, "n_way": args.n_way, "k_shot": shot, "q_query": args.q_query,
                           "train_episodes": args.episodes,
                           "image_size": args.image_size}
                    jobs.append(Job(key=key, config=config, episode_file=str(file), data=specs, device=args.device))
    return jobs


def summarise(rows: list[dict]) -> list[dict]:
    """Seeds folded: a row per (variant, protocol, shot)."""
    from _jobs import seed_summary

    return seed_summary(rows, ("variant", "method", "options", "protocol", "n_way", "k_shot"))


def validation_ranking(summary: list[dict]) -> list[tuple[str, float, float]]:
    """(variant, validation accuracy averaged over seeds, protocols and shots, test likewise), best first;
    only the rows that ran in every column (protocol and shot), so that the averages compare."""
    by: dict[str, list[dict]] = {}
    for r in summary:
        by.setdefault(r["variant"], []).append(r)
    columns = max(len(rs) for rs in by.values())
    by = {v: rs for v, rs in by.items() if len(rs) == columns}
    ranking = [(v, statistics.fmean(r["best_val"] for r in rs), statistics.fmean(r["accuracy"] for r in rs))
               for v, rs in by.items()]
    return sorted(ranking, key=lambda t: -t[1])


def markdown(rows: list[dict], args: argparse.Namespace, command: str, wall: float) -> str:
    summary = summarise(rows)
    cols = list(dict.fromkeys((r["protocol"], r["k_shot"]) for r in summary))
    present = {r["variant"] for r in summary}
    variants = [v[0] for v in VARIANTS if v[0] in present]
    cell = {(r["variant"], r["protocol"], r["k_shot"]): r for r in summary}
    first = rows[0]  # the settings as run (the CSV's, when the table is drawn again from it)
    seeds = len({r["seed"] for r in rows})
    lines = [
        f"# CRN ablation: {first['n_way']}-way, {first.get('q_query') or args.q_query} queries, {first['episodes']} fixed "
        f"subject-disjoint test episodes per protocol and shot, {seeds} training seeds per row",
        "",
        "Test accuracy on the novel classes in percent: the mean over training seeds ± the 95% episode CI (averaged "
        "over seeds), and [lowest-highest seed]. Every row of a column replays the same episode file. Each run: "
        f"conv4, {first['train_episodes']} training episodes of the test's shot, {first['image_size']} px, best "
        "validation checkpoint.",
        "",
        "| row | " + " | ".join(f"{p} {k}-shot" for p, k in cols) + " | val (mean) |",
        "|---|" + "---|" * len(cols) + "---|",
    ]
    ranking = {v: val for v, val, _ in validation_ranking(summary)}
    for v in variants:
        out = []
        for p, k in cols:
            r = cell.get((v, p, k))
            out.append("-" if r is None else f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} "
                       f"[{100 * r['seed_min']:.1f}-{100 * r['seed_max']:.1f}]")
        val = f"{100 * ranking[v]:.2f}" if v in ranking else "-"
        lines.append(f"| {v} | " + " | ".join(out) + f" | {val} |")
    lines += ["", "Validation accuracy (mean over seeds, protocols and shots; what chooses the defaults), best first "
              "(rows that ran in every column):", ""]
    for v, val, test in validation_ranking(summary):
        lines.append(f"- {v}: validation {100 * val:.2f}% (test {100 * test:.2f}%)")
    lines += ["", f"Command: `{command}`; wall time {wall / 60:.1f} min."]
    return "\n".join(lines) + "\n"


def chart(path: Path, rows: list[dict]) -> None:
    """A panel per protocol and shot: each row's test mean (bar), episode CI (error bar) and seeds (dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(rows)
    cols = list(dict.fromkeys((r["protocol"], r["k_shot"]) for r in summary))
    present = {r["variant"] for r in summary}
    variants = [v[0] for v in VARIANTS if v[0] in present]
    fig, axes = plt.subplots(1, len(cols), figsize=(4.2 * len(cols), 0.38 * len(variants) + 1.6), sharey=True, squeeze=False)
    for ax, (proto, shot) in zip(axes[0], cols):
        for y, v in enumerate(variants):
            r = next((r for r in summary if r["variant"] == v and r["protocol"] == proto and r["k_shot"] == shot), None)
            if r is None:
                continue
            colour = "tab:blue" if r["method"] == "crn" else "tab:orange"
            ax.barh(y, 100 * r["accuracy"], xerr=100 * r["ci95"], color=colour, alpha=0.75, capsize=2)
            ax.plot([100 * a for a in r["seed_accuracies"]], [y] * r["seeds"], "k.", markersize=3)
        default = next((r for r in summary if r["variant"] == variants[0] and r["protocol"] == proto and r["k_shot"] == shot), None)
        if default:
            ax.axvline(100 * default["accuracy"], color="grey", linestyle=":", linewidth=1)
        ax.axvline(100 / rows[0]["n_way"], color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{proto}, {shot}-shot", fontsize=9)
        ax.set_xlabel("test accuracy (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(variants)), variants, fontsize=7)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    from _jobs import run_jobs

    from fsfer.errors import FsferError

    args = parse_args(argv)
    command = "python benchmarks/ablate_crn.py " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    out = Path(args.results_dir)
    if args.from_csv:
        rows = read_rows(args.from_csv)
        text = markdown(rows, args, command, 0.0).replace(
            f"`{command}`; wall time 0.0 min.",
            f"`{command}`: drawn again from the runs in {args.from_csv} (see its run_dir column)."
        )
        (out / f"{args.name}.md").write_text(text)
        chart(out / f"{args.name}.png", rows)
        print(text)
        return 0
    t0 = time.perf_counter()
    try:
        jobs = plan_jobs(args)
        print(f"ablate_crn: {len(jobs)} runs ({args.seeds} seeds), {args.workers} worker(s)", flush=True)

        def log(done: int, total: int, r: dict) -> None:
            print(f"[{done}/{total}] {r['protocol']} {r['k_shot']}-shot seed {r['seed']} {r['variant']}: "
                  f"test {100 * r['accuracy']:.2f} +- {100 * r['ci95']:.2f}, val {100 * r['best_val']:.2f} "
                  f"({r['train_seconds']:.0f} s)", flush=True)

        rows = run_jobs(jobs, args.workers, log)
    except FsferError as err:
        print(f"ablate_crn: error: {err}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{args.name}.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(rows, args, command, wall)
    (out / f"{args.name}.md").write_text(text)
    chart(out / f"{args.name}.png", rows)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
