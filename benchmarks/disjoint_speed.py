"""How long drawing a subject-disjoint test set takes, beside the plain draw, in one run.

600 episodes' indices (what ``episode-train`` draws for its test set and ``fsfer episodes
make`` writes) over a store of 30,000 images in 7 classes, for 5-way 1-shot and 5-shot
with 15 queries, with many subjects (RAF-DB or AffectNet-like: about 7 images per person
and class) and few (CK+-like: 118 people). Each time includes building the sampler (the
up-front check that every class can give K shots and a disjoint query). Medians of
interleaved rounds; one torch thread. Target: well under a second per set.

    .venv/bin/python benchmarks/disjoint_speed.py [--images 30000] [--episodes 600] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from fsfer.episodes import EpisodeSampler

RESULTS = Path(__file__).resolve().parent / "results" / "disjoint_speed.json"


def labels_only_store(images: int, classes: int, subjects: int, seed: int = 0) -> SimpleNamespace:
    """A store with labels and subjects and no pixels (drawing indices touches no image)."""
    rng = np.random.default_rng(seed)
    records = pd.DataFrame({"subject": [f"p{s:05d}" for s in rng.integers(0, subjects, images)]})
    labels = torch.as_tensor(rng.integers(0, classes, images))
    return SimpleNamespace(labels=labels, classes=[f"c{c}" for c in range(classes)], records=records, images=None)


def draw_seconds(store, k_shot: int, episodes: int, disjoint: bool) -> float:
    """Seconds to build a 5-way ``k_shot``-shot 15-query sampler and draw ``episodes`` episodes' indices."""
    t0 = time.perf_counter()
    sampler = EpisodeSampler(store, None, 5, k_shot, 15, seed=0, episodes=episodes, disjoint_subjects=disjoint)
    for i in range(episodes):
        sampler.index(i)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for people, subjects in (("many", args.images // 49), ("few", 118)):
        store = labels_only_store(args.images, 7, subjects)
        for k_shot in (1, 5):
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.rounds):  # interleaved, so that load on the machine hits both alike
                for disjoint in (False, True):
                    times[disjoint].append(draw_seconds(store, k_shot, args.episodes, disjoint))
            plain, disjoint = statistics.median(times[False]), statistics.median(times[True])
            rows.append({"subjects": subjects, "people": people, "k_shot": k_shot, "plain_s": round(plain, 4),
                         "disjoint_s": round(disjoint, 4), "ratio": round(disjoint / plain, 1)})
            print(f"{args.episodes} episodes, 5-way {k_shot}-shot 15-query, {args.images:,} images, {subjects} subjects: "
                  f"plain {plain:.3f} s, subject-disjoint {disjoint:.3f} s ({disjoint / plain:.1f}x)")
    result = {"images": args.images, "episodes": args.episodes, "rounds": args.rounds, "threads": 1, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
