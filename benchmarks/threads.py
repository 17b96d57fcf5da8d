"""How many torch threads make ``fsfer episode-train``'s default run fastest, on a quiet and on a busy machine.

Runs the demo's configuration (``make demo``: CRN, conv4, SynthFER, 64 px, 5-way 1-shot)
for ``--episodes`` training episodes with each thread count of ``--threads``, first on a
quiet machine, then with ``--busy`` other CPU-bound processes running (each a numpy loop
on one thread, as other jobs on a shared machine), rounds interleaved; reports training
episodes per second (the loop alone, from its first to its last ``metrics.csv`` row, so
the one-time SynthFER render and the final test are left out) and writes
``benchmarks/results/threads.json`` and ``.md``.

    .venv/bin/python benchmarks/threads.py [--episodes 60] [--threads 1 2] [--busy 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BURNER = "import numpy as np\na = np.random.rand(400, 400)\nwhile True:\n    a = (a @ a) / 400.0\n"


def train_rate(threads: int, episodes: int, out: Path) -> float:
    """Episodes/s of one default run with ``threads`` torch threads (a fresh process, as a user runs it)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "fsfer", "episode-train", "--episodes", str(episodes), "--val-every", str(episodes),
           "--val-episodes", "5", "--test-episodes", "5", "--threads", str(threads), "--device", "cpu", "--quiet",
           "--force", "--out", str(out)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    results = json.loads((out / "results.json").read_text())
    return float(results["train_episodes_per_second"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=60)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--busy", type=int, default=2, help="CPU-bound processes running during the busy rounds")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS / "threads.json")
    p.add_argument("--from-json", action="store_true", help="rewrite the .md from the JSON of an earlier run")
    args = p.parse_args()
    if args.from_json:
        text = markdown(json.loads(args.out.read_text()))
        args.out.with_suffix(".md").write_text(text)
        print(text, end="")
        return 0
    rates: dict[str, dict[int, list[float]]] = {"quiet": {t: [] for t in args.threads},
                                                "busy": {t: [] for t in args.threads}}
    with tempfile.TemporaryDirectory(prefix="threads.") as tmp:
        warm = Path(tmp) / "warm"
        train_rate(1, 2, warm)  # renders SynthFER once into the cache
        for r in range(args.rounds):
            for load in ("quiet", "busy"):
                burners = [subprocess.Popen([sys.executable, "-c", BURNER], env={**os.environ, "OMP_NUM_THREADS": "1"})
                           for _ in range(args.busy if load == "busy" else 0)]
                try:
                    time.sleep(1.0 if burners else 0.0)
                    for t in args.threads:
                        rate = train_rate(t, args.episodes, Path(tmp) / f"{load}-{t}")
                        rates[load][t].append(rate)
                        print(f"round {r + 1} {load:5s} threads={t}: {rate:.2f} episodes/s", flush=True)
                finally:
                    for b in burners:
                        b.kill()
                        b.wait()
    median = {load: {t: statistics.median(v) for t, v in per.items()} for load, per in rates.items()}
    best = {load: max(per, key=per.get) for load, per in median.items()}
    result = {"episodes": args.episodes, "busy_processes": args.busy, "rounds": args.rounds, "rates": rates,
              "median": median, "fastest": best, "cpu_count": os.cpu_count(), "machine": platform.machine(),
              "command": "python benchmarks/threads.py " + shlex.join(sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    args.out.with_suffix(".md").write_text(text)
    print(text, end="")
    return 0


def markdown(result: dict) -> str:
    """The table: each round's rate and the median, per thread count and load."""
    threads = sorted(int(t) for t in result["median"]["quiet"])
    lines = ["# torch threads for the default episode-train run (make demo's configuration)", "",
             f"CRN, conv4, SynthFER, 64 px, 5-way 1-shot; training episodes/s of the loop alone (from results.json's "
             f"train_episodes_per_second), {result['episodes']} episodes per run, {result['rounds']} interleaved rounds; "
             f"{result['cpu_count']} CPU cores; busy = {result['busy_processes']} other CPU-bound processes "
             "(one numpy thread each).", "", "| threads | quiet: rounds | quiet: median | busy: rounds | busy: median |",
             "|---|---|---|---|---|"]
    for t in threads:
        cells = []
        for load in ("quiet", "busy"):
            rounds = result["rates"][load][str(t)] if str(t) in result["rates"][load] else result["rates"][load][t]
            median = result["median"][load][str(t)] if str(t) in result["median"][load] else result["median"][load][t]
            cells += [", ".join(f"{r:.2f}" for r in rounds), f"{median:.2f}"]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
