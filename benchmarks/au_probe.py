"""Which facial action units do the few-shot methods' embedders learn? Linear AU probes of their checkpoints.

Probes the ``best.pt`` of the runs :mod:`compare_metrics` leaves under
``runs/compare/compare_synth/synth-basic-to-compound/conv4/`` (5-way 5-shot: ``<method>-5w5s/seed<S>/``
for crn, relation, protonet, matching, cosine, maml; ``pretrain-5w5s/seed<S>/pretrain/`` for the
classifier-pretrained embedder and ``pretrain-5w5s/seed<S>/crn/`` for CRN fine-tuned from it) with
:func:`fsfer.probe.probe_aus` on SynthFER (``synth``, both domains, 5,280 images) at 32 px, the runs'
image size: global-average-pooled conv4 features (64), ridge R^2 on each AU's intensity and logistic
ROC-AUC on its presence, fitted on the 28 training subjects and scored on the 8 held-out test subjects
(whose images no run trained on: the protocol trains on the basic classes of the training subjects),
beside a random-initialised conv4 and raw pixels (grey, 32 x 32). Runs missing on disk are skipped.

Writes ``benchmarks/results/au_probe.csv`` (one row per method, seed and AU, plus the random and pixel
rows), ``au_probe.md`` (rows = AUs, columns = methods; R^2 and AUC tables, mean over seeds) and
``au_probe.png`` (grouped bars per AU).

Run::

    .venv/bin/python benchmarks/au_probe.py --seeds 0,1,2

Took 5.4 minutes on the 2-core CPU machine beside other jobs (one torch thread; 24 checkpoints,
about 13 s each, SynthFER already rendered in the cache).
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path("runs/compare/compare_synth/synth-basic-to-compound/conv4")
#: Method label -> run folder below ROOT (``{shots}`` and ``{seed}`` filled in).
RUNS: dict[str, str] = {
    "crn": "crn-5w{shots}s/seed{seed}",
    "relation": "relation-5w{shots}s/seed{seed}",
    "protonet": "protonet-5w{shots}s/seed{seed}",
    "matching": "matching-5w{shots}s/seed{seed}",
    "cosine": "cosine-5w{shots}s/seed{seed}",
    "maml": "maml-5w{shots}s/seed{seed}",
    "pretrain": "pretrain-5w{shots}s/seed{seed}/pretrain",
    "pretrain+crn": "pretrain-5w{shots}s/seed{seed}/crn",
}
BASELINES = ("random", "pixels")
#: Groups of AUs summarised under the tables.
GROUPS: dict[str, tuple[int, ...]] = {
    "brows (1, 2, 4)": (1, 2, 4),
    "eyes (5, 6, 7)": (5, 6, 7),
    "nose and upper lip (9, 10, 11)": (9, 10, 11),
    "mouth (12, 15, 17, 20, 23, 24, 25, 26)": (12, 15, 17, 20, 23, 24, 25, 26),
}
CSV_COLUMNS = ("method", "seed", "au", "name", "r2", "r2_lo", "r2_hi", "auc", "auc_lo", "auc_hi", "checkpoint")


def _f(v: float) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.4f}"


def probe_all(root: Path, seeds: list[int], shots: int, data: str, resamples: int) -> tuple[list[dict], list[str], int]:
    """Probe every run found: CSV rows (methods, then the baselines of the first run), the methods found and
    the number of held-out subjects."""
    from fsfer.probe import probe_aus
    from fsfer.store import load_dataset

    store = load_dataset(data, 32)
    rows: list[dict] = []
    found: list[str] = []
    baseline = None
    for method, pattern in RUNS.items():
        for seed in seeds:
            folder = root / pattern.format(shots=shots, seed=seed)
            if not (folder / "best.pt").is_file():
                print(f"skip {method} seed {seed}: no {folder / 'best.pt'}")
                continue
            started = time.perf_counter()
            result = probe_aus(folder / "best.pt", data=store, resamples=resamples)
            print(f"{method} seed {seed}: mean R^2 {result.mean('r2'):.3f} (random {result.mean('r2_random'):.3f}, "
                  f"pixels {result.mean('r2_pixels'):.3f}) in {time.perf_counter() - started:.1f} s", flush=True)
            if method not in found:
                found.append(method)
            for a in result.aus:
                rows.append({"method": method, "seed": seed, "au": a.au, "name": a.name, "r2": a.r2, "r2_lo": a.ci95[0],
                             "r2_hi": a.ci95[1], "auc": a.auc, "auc_lo": a.auc_ci95[0], "auc_hi": a.auc_ci95[1],
                             "checkpoint": result.checkpoint})
            if baseline is None:
                baseline = result
    if baseline is not None:
        for name in BASELINES:
            for a in baseline.aus:
                rows.append({"method": name, "seed": "", "au": a.au, "name": a.name, "r2": getattr(a, f"r2_{name}"),
                             "r2_lo": float("nan"), "r2_hi": float("nan"), "auc": getattr(a, f"auc_{name}"),
                             "auc_lo": float("nan"), "auc_hi": float("nan"), "checkpoint": ""})
    return rows, found, baseline.test_subjects if baseline is not None else 0


def table(rows: list[dict], metric: str) -> tuple[list[int], dict[int, str], list[str], dict[tuple[str, int], float]]:
    """AUs, their names, the columns (methods then baselines) and ``{(column, au): mean over seeds}``."""
    aus = sorted({int(r["au"]) for r in rows})
    names = {int(r["au"]): r["name"] for r in rows}
    columns = list(dict.fromkeys(r["method"] for r in rows))
    cells: dict[tuple[str, int], float] = {}
    for c in columns:
        for au in aus:
            values = [float(r[metric]) for r in rows if r["method"] == c and int(r["au"]) == au]
            values = [v for v in values if not math.isnan(v)]
            cells[(c, au)] = float(np.mean(values)) if values else float("nan")
    return aus, names, columns, cells


def markdown(rows: list[dict], seeds: list[int], data: str, command: str, minutes: float, test_subjects: int,
             resamples: int) -> str:
    lines = [
        "# au_probe: which facial action units the few-shot embedders learn",
        "",
        f"Linear probes of the frozen conv4 embedders of `benchmarks/compare_metrics.py`'s 5-way 5-shot "
        f"synth-basic-to-compound runs (`best.pt`, seed(s) {', '.join(map(str, seeds))}; the mean over seeds is shown), on "
        f"SynthFER (`{data}`, 5,280 images, 32 px): global-average-pooled features (64), fitted on the 28 training subjects "
        f"and scored on the {test_subjects} held-out test subjects, whose images no run trained on. "
        "R^2: ridge regression on the AU's intensity (features standardised on the training rows, "
        "lambda = 1 x features); AUC: L2 logistic regression on the AU's presence (intensity > 0), ROC-AUC. "
        "`random`: the same conv4 randomly initialised (torch seed 0); `pixels`: the normalised image in grey, "
        "32 x 32 (1,024 features). Best embedder per AU in bold. The per-seed values and 95% intervals over "
        f"subjects (bootstrap, {resamples} resamples) are in `au_probe.csv`. Episodic training sees only the basic "
        "classes of the training subjects; pretrain = classifier pretraining of the same embedder "
        "(`fsfer pretrain`), pretrain+crn = CRN fine-tuned episodically from it.",
        "",
    ]
    for metric, title in (("r2", "R^2 of AU intensity on held-out subjects"), ("auc", "ROC-AUC of AU presence on held-out subjects")):
        aus, names, columns, cells = table(rows, metric)
        lines += [f"## {title}", "", "| AU | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
        methods = [c for c in columns if c not in BASELINES]
        for au in aus:
            best = max((cells[(c, au)] for c in methods if not math.isnan(cells[(c, au)])), default=float("nan"))
            cell = lambda c: ("-" if math.isnan(cells[(c, au)]) else  # noqa: E731
                              (f"**{cells[(c, au)]:.2f}**" if c in methods and cells[(c, au)] == best else f"{cells[(c, au)]:.2f}"))
            lines.append(f"| {au} {names[au]} | " + " | ".join(cell(c) for c in columns) + " |")
        for label, group in [("mean (all AUs)", tuple(aus))] + list(GROUPS.items()):
            means = [np.nanmean([cells[(c, au)] for au in group if au in aus]) for c in columns]
            lines.append(f"| *{label}* | " + " | ".join(f"{m:.2f}" for m in means) + " |")
        lines.append("")
    lines += [f"Command: `{command}`; wall time {minutes:.1f} min (one torch thread, 2 shared CPU cores)."]
    return "\n".join(lines) + "\n"


def draw(rows: list[dict], path: Path) -> None:
    """Grouped bars per AU (one per method, then random and pixels): R^2 panel over AUC panel."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    panels = []
    for metric in ("r2", "auc"):
        panels.append(table(rows, metric))
    aus, names, columns, _ = panels[0]
    n = len(columns)
    width = 0.85 / n
    fig = Figure(figsize=(max(10.0, 0.9 * len(aus) + 3), 9.0), dpi=100, layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    palette = colormaps["tab10"]
    hues = [palette(i) for i in range(10) if i != 7]  # tab10 without its grey, kept for the baselines
    colours = {c: hues[i % len(hues)] for i, c in enumerate(c for c in columns if c not in BASELINES)}
    colours.update({"random": "#bbbbbb", "pixels": "#555555"})
    x = np.arange(len(aus))
    for ax, (metric, title), (_, _, _, cells) in zip(
        axes, (("r2", "R^2 of AU intensity (ridge), held-out subjects"), ("auc", "ROC-AUC of AU presence (logistic)")), panels
    ):
        for k, c in enumerate(columns):
            values = np.array([cells[(c, au)] for au in aus], dtype=float)
            ax.bar(x + (k - (n - 1) / 2) * width, np.nan_to_num(values), width, color=colours[c], label=c)
        ax.axhline(0.5 if metric == "auc" else 0.0, color="black", linewidth=0.8)
        ax.set_title(title)
        ax.set_ylabel("R^2" if metric == "r2" else "AUC")
        ax.set_ylim(*((-0.1, 0.8) if metric == "r2" else (0.4, 1.0)))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncol=min(n, 5), fontsize="small", loc="upper left")
    axes[1].set_xticks(x, [f"AU{au} {names[au]}" for au in aus], rotation=40, ha="right")
    fig.suptitle("AU probes of the conv4 embedders of the synth-basic-to-compound 5-way 5-shot runs (SynthFER, 32 px)")
    fig.savefig(path, dpi=100, metadata={"Software": None})


def main(argv: list[str] | None = None) -> None:
    import shlex
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="Folder of the compare_metrics runs.")
    parser.add_argument("--seeds", default="0", help="Training seeds to probe, e.g. 0,1,2 (default 0).")
    parser.add_argument("--shots", type=int, default=5, help="The runs' shots (5w<shots>s folders).")
    parser.add_argument("--data", default="synth", help="Data spec with AU columns (default synth).")
    parser.add_argument("--resamples", type=int, default=200, help="Bootstrap resamples of the intervals.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default="au_probe")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    started = time.perf_counter()
    rows, found, test_subjects = probe_all(args.root, seeds, args.shots, args.data, args.resamples)
    if not found:
        sys.exit(f"no runs found under {args.root}; run benchmarks/compare_metrics.py first")
    minutes = (time.perf_counter() - started) / 60
    out = args.results_dir
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{args.name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (_f(v) if isinstance(v, float) else v) for k, v in r.items()})
    command = "python benchmarks/au_probe.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    (out / f"{args.name}.md").write_text(markdown(rows, seeds, args.data, command.strip(), minutes, test_subjects, args.resamples))
    draw(rows, out / f"{args.name}.png")
    print(f"wrote {out / args.name}.csv, .md, .png in {minutes:.1f} min")


if __name__ == "__main__":
    main()
