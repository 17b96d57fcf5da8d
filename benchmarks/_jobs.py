"""Training jobs of the benchmark scripts: train one configuration, replay a fixed episode file, return a row.

``compare_metrics.py`` and ``ablate_crn.py`` describe every (setting, method, seed) as a
:class:`Job` and hand the list to :func:`run_jobs`, which runs them in order, or in
``workers`` processes (spawned, one torch thread each: on a 2-core machine two workers
finish about twice as fast as one, while two threads in one process do not).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable


@dataclass
class Job:
    """One training run and its replay: ``key`` goes into the result row as it is."""

    key: dict[str, Any]
    config: dict[str, Any]
    episode_file: str
    data: list[str] = field(default_factory=list)
    device: str = "auto"


def run_job(job: Job) -> dict[str, Any]:
    """Train ``job.config`` (a :class:`~fsfer.engine.config.RunConfig`'s fields), replay the episode file on
    its best checkpoint; the row holds the key, the accuracies, the validation accuracy and the timings."""
    import torch

    from fsfer.engine.config import RunConfig
    from fsfer.engine.evaluate_run import evaluate_checkpoint
    from fsfer.engine.train import train

    torch.set_num_threads(1)
    cfg = RunConfig(**job.config)
    t0 = time.perf_counter()
    trained = train(cfg, force=True)
    t1 = time.perf_counter()
    replay = evaluate_checkpoint(Path(cfg.out) / "best.pt", data=job.data or None, episodes=job.episode_file,
                                 device=job.device)
    t2 = time.perf_counter()
    result = replay.result
    return {
        **job.key,
        "accuracy": round(result.accuracy, 6), "ci95": round(result.ci95, 6), "episodes": result.episodes,
        "best_val": round(trained.best_val, 6), "train_seconds": round(t1 - t0, 1), "eval_seconds": round(t2 - t1, 1),
        "episode_file": job.episode_file, "disjoint_subjects": replay.disjoint_subjects, "run_dir": str(cfg.out),
    }


def run_jobs(jobs: list[Job], workers: int = 1, log: Callable[[int, int, dict], None] | None = None) -> list[dict]:
    """Every job's row, in the order of ``jobs``; ``log(done, total, row)`` after each (in completion order)."""
    rows: list[dict | None] = [None] * len(jobs)
    if workers <= 1:
        for i, job in enumerate(jobs):
            rows[i] = run_job(job)
            if log:
                log(i + 1, len(jobs), rows[i])
        return rows  # type: ignore[return-value]
    env_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # the spawned workers start with one OpenMP thread
    # spawned workers start from this process's sys.path and must import this module to run a job
    here = str(Path(__file__).resolve().parent)
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
            for done, future in enumerate(as_completed(futures), start=1):
                i = futures[future]
                rows[i] = future.result()
                if log:
                    log(done, len(jobs), rows[i])
    finally:
        if added:
            sys.path.remove(here)
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads
    return rows  # type: ignore[return-value]


def seed_summary(rows: list[dict], group: tuple[str, ...]) -> list[dict]:
    """Rows of several training seeds folded into one per ``group`` key (in first-seen order).

    ``accuracy``: the mean over seeds; ``ci95``: the mean episode CI of a seed; ``seed_min``,
    ``seed_max``, ``seed_std`` (population std): the spread over seeds; ``seeds``: how many;
    ``best_val``: the mean validation accuracy.
    """
    import statistics

    folded: dict[tuple, list[dict]] = {}
    for r in rows:
        folded.setdefault(tuple(r[k] for k in group), []).append(r)
    out = []
    for members in folded.values():
        acc = [float(r["accuracy"]) for r in members]
        out.append({
            **{k: members[0][k] for k in group},
            "accuracy": statistics.fmean(acc), "ci95": statistics.fmean(float(r["ci95"]) for r in members),
            "seed_min": min(acc), "seed_max": max(acc), "seed_std": statistics.pstdev(acc), "seeds": len(members),
            "best_val": statistics.fmean(float(r["best_val"]) for r in members),
            "seed_accuracies": acc,
        })
    return out
