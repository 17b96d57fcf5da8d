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
    """One training run and its replay: ``key`` goes into the result row as it is.

    A pretraining job (``pretrain``: the config of a ``fsfer pretrain`` run) gives one row
    per entry of ``heads``: a metric head on the frozen pretrained embedder (``protonet``,
    ``simpleshot``, ...), or ``crn`` & co., fine-tuned episodically from it with ``config``
    (plus ``init``); each row's method is ``pretrain+<head>``.
    """

    key: dict[str, Any]
    config: dict[str, Any]
    episode_file: str
    data: list[str] = field(default_factory=list)
    device: str = "auto"
    pretrain: dict[str, Any] | None = None
    heads: list[str] = field(default_factory=list)


def _replay_row(job: Job, checkpoint: Path, key: dict[str, Any], best_val: float, train_seconds: float,
                run_dir: str, method: str | None = None) -> dict[str, Any]:
    """Replay the job's episode file on ``checkpoint`` (with ``method`` as the head, when given): the row."""
    from fsfer.engine.evaluate_run import evaluate_checkpoint

    t0 = time.perf_counter()
    replay = evaluate_checkpoint(checkpoint, data=job.data or None, episodes=job.episode_file, device=job.device,
                                 method=method)
    result = replay.result
    return {
        **key,
        "accuracy": round(result.accuracy, 6), "ci95": round(result.ci95, 6), "episodes": result.episodes,
        "best_val": round(best_val, 6), "train_seconds": round(train_seconds, 1),
        "eval_seconds": round(time.perf_counter() - t0, 1),
        "episode_file": job.episode_file, "disjoint_subjects": replay.disjoint_subjects, "run_dir": run_dir,
    }


def run_job(job: Job) -> dict[str, Any] | list[dict[str, Any]]:
    """Train ``job.config`` (a :class:`~fsfer.engine.config.RunConfig`'s fields), replay the episode file on
    its best checkpoint; the row holds the key, the accuracies, the validation accuracy and the timings.
    A pretraining job gives a list of rows (see :class:`Job`)."""
    import torch

    from fsfer.engine.config import RunConfig
    from fsfer.engine.train import train

    torch.set_num_threads(1)
    if job.pretrain is not None:
        return _run_pretrain_job(job)
    cfg = RunConfig(**job.config)
    t0 = time.perf_counter()
    trained = train(cfg, force=True)
    return _replay_row(job, Path(cfg.out) / "best.pt", job.key, trained.best_val, time.perf_counter() - t0, str(cfg.out))


def _run_pretrain_job(job: Job) -> list[dict[str, Any]]:
    from fsfer.engine.config import PRETRAIN_HEADS, RunConfig
    from fsfer.engine.pretrain import pretrain, pretrain_config
    from fsfer.engine.train import train

    assert job.pretrain is not None
    t0 = time.perf_counter()
    pre = pretrain(pretrain_config(**job.pretrain), force=True)
    pretrain_seconds = time.perf_counter() - t0
    best = Path(job.pretrain["out"]) / "best.pt"
    rows = []
    for head in job.heads:
        key = {**job.key, "method": f"pretrain+{head}"}
        if head in PRETRAIN_HEADS:
            rows.append(_replay_row(job, best, key, pre.best_val, pretrain_seconds, job.pretrain["out"], method=head))
            continue
        cfg = RunConfig(**{**job.config, "method": head, "init": str(best), "out": str(Path(job.config["out"]) / head)})
        t1 = time.perf_counter()
        tuned = train(cfg, force=True)
        seconds = pretrain_seconds + time.perf_counter() - t1
        rows.append(_replay_row(job, Path(cfg.out) / "best.pt", key, tuned.best_val, seconds, str(cfg.out)))
    return rows


def _rows_of(result: dict | list[dict]) -> list[dict]:
    return result if isinstance(result, list) else [result]


def run_jobs(jobs: list[Job], workers: int = 1, log: Callable[[int, int, dict], None] | None = None) -> list[dict]:
    """Every job's rows, in the order of ``jobs``; ``log(done, total, row)`` after each row (in completion order)."""
    rows: list[list[dict] | None] = [None] * len(jobs)
    total = sum(max(1, len(job.heads)) if job.pretrain is not None else 1 for job in jobs)
    done = 0

    def finished(i: int, result: dict | list[dict]) -> None:
        nonlocal done
        rows[i] = _rows_of(result)
        for row in rows[i]:
            done += 1
            if log:
                log(done, total, row)

    if workers <= 1:
        for i, job in enumerate(jobs):
            finished(i, run_job(job))
        return [row for group in rows for row in group]  # type: ignore[union-attr]
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
            for future in as_completed(futures):
                finished(futures[future], future.result())
    finally:
        if added:
            sys.path.remove(here)
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads
    return [row for group in rows for row in group]  # type: ignore[union-attr]


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
