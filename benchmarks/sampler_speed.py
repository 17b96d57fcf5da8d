"""Episodes per second of fsfer's sampler against learn2learn and easyfsl, in one run.

5-way 5-shot 15-query at 84x84 from an in-memory dataset of 15,000 images
(100 classes x 150), every library over the same uint8 tensor: the store's images
after ``ImageStore.in_memory()`` (huge pages where Linux allows). fsfer is also timed
over the plain tensor (4 KB pages) and drawing indices only. Prints ratios and
writes ``benchmarks/results/sampler_speed.json``.

Two floors are timed in the same run, so that the ceiling of this machine is printed
beside the ratios: ``copy_floor`` copies one episode's bytes from consecutive rows into
a reused buffer (no sampler that returns the images can beat it), and ``gather_floor``
gathers random rows drawn in advance (the copy fsfer and the peers all pay).

    .venv/bin/python benchmarks/sampler_speed.py [--seconds 2] [--freeze-gc] [--device cuda]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import TensorFewShotDataset, easyfsl_sampler_shim, median_rates  # noqa: E402

from fsfer.episodes import EpisodeSampler  # noqa: E402
from fsfer.episodes.l2l import import_learn2learn  # noqa: E402
from fsfer.hugepages import hugepages_supported  # noqa: E402
from fsfer.store import from_tensors  # noqa: E402


def sampler_rates(
    episodes: int = 300,
    repeats: int = 5,
    classes: int = 100,
    per_class: int = 150,
    size: int = 84,
    freeze_gc: bool = False,
    device: str = "cpu",
    seconds: float = 2.0,
) -> dict[str, float]:
    """Median episodes/s of fsfer, learn2learn and easyfsl over the same uint8 tensors, and their ratios.

    ``freeze_gc`` calls ``gc.freeze()`` before timing, so that the garbage collector never
    walks the objects alive by then: learn2learn and easyfsl make many small Python
    objects per episode, and their rates depend on how often a full collection runs.
    ``device="cuda"`` puts the store's images on the GPU and gives the peers the same
    CUDA tensor (their per-image indexing and stacking then run on the GPU too).
    Each timed round lasts at least ``seconds``: learn2learn makes about 1,300 Python
    containers per episode, which set off a full collection every ~350 episodes (~0.2 s
    each over a process of 400k objects), so a short round catches or misses one by chance.
    """
    torch.manual_seed(0)
    n = classes * per_class
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    labels = torch.arange(classes).repeat_interleave(per_class)
    way, shot, query = 5, 5, 15
    results: dict[str, float] = {}

    plain_store = from_tensors(images, labels, [f"c{i}" for i in range(classes)])
    store = plain_store.in_memory() if device == "cpu" else plain_store.to(device)
    images = store.images  # every contender reads this tensor
    sampler = EpisodeSampler(store, None, way, shot, query, seed=0, episodes=10**9)
    plain_sampler = EpisodeSampler(plain_store, None, way, shot, query, seed=0, episodes=10**9)

    l2l = import_learn2learn()
    t0 = time.perf_counter()
    meta = l2l.data.MetaDataset(torch.utils.data.TensorDataset(images, labels))
    results["learn2learn_bookkeeping_s"] = time.perf_counter() - t0
    tasks = l2l.data.Taskset(
        meta,
        task_transforms=[
            l2l.data.transforms.NWays(meta, way),
            l2l.data.transforms.KShots(meta, shot + query),
            l2l.data.transforms.LoadData(meta),
            l2l.data.transforms.RemapLabels(meta),
        ],
        num_tasks=-1,
    )

    easyfsl_sampler_shim()
    from easyfsl.samplers import TaskSampler

    dataset = TensorFewShotDataset(images, labels)
    task_sampler = TaskSampler(dataset, n_way=way, n_shot=shot, n_query=query, n_tasks=10**9)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=task_sampler, num_workers=0, collate_fn=task_sampler.episodic_collate_fn)
    it = iter(loader)
    episodes_iter, plain_iter = iter(sampler), iter(plain_sampler)

    per_episode = way * (shot + query)
    generator = torch.Generator().manual_seed(1)
    starts = torch.randint(0, n - per_episode, (256,), generator=generator).tolist()
    random_rows = [torch.randperm(n, generator=generator)[:per_episode].to(images.device) for _ in range(256)]
    buffer = torch.empty((per_episode,) + tuple(images.shape[1:]), dtype=images.dtype, device=images.device)

    def copy_floor(i: int) -> object:
        start = starts[i % len(starts)]
        return buffer.copy_(images[start : start + per_episode])

    def gather_floor(i: int) -> object:
        return images.index_select(0, random_rows[i % len(random_rows)])

    offset = [0]

    def fsfer_index(i: int) -> object:
        offset[0] += 1
        return sampler.index(offset[0])

    if freeze_gc:
        gc.collect()
        gc.freeze()
    try:
        results.update(median_rates(
            {
                "fsfer": lambda i: next(episodes_iter),
                "learn2learn": lambda i: tasks.sample(),
                "easyfsl": lambda i: next(it),
                "fsfer_plain_pages": lambda i: next(plain_iter),
                "fsfer_indices_only": fsfer_index,
                "copy_floor": copy_floor,
                "gather_floor": gather_floor,
            },
            episodes, repeats=repeats, sync=torch.cuda.synchronize if images.is_cuda else None, min_seconds=seconds,
        ))
    finally:
        if freeze_gc:
            gc.unfreeze()
    results["fsfer_vs_learn2learn"] = results["fsfer"] / results["learn2learn"]
    results["fsfer_vs_easyfsl"] = results["fsfer"] / results["easyfsl"]
    results["copy_floor_vs_learn2learn"] = results["copy_floor"] / results["learn2learn"]
    results["gather_floor_vs_learn2learn"] = results["gather_floor"] / results["learn2learn"]
    results["fsfer_vs_gather_floor"] = results["fsfer"] / results["gather_floor"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300, help="episodes per timed round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the median is reported")
    parser.add_argument("--seconds", type=float, default=2.0, help="shortest timed round per contender (averages in the GC)")
    parser.add_argument("--device", default="cpu", help="where the images live: cpu (huge pages) or cuda")
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() before timing (see sampler_rates)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sampler_speed.json")
    args = parser.parse_args()
    results = sampler_rates(args.episodes, args.repeats, freeze_gc=args.freeze_gc, device=args.device, seconds=args.seconds)
    setting = {
        "n_way": 5, "k_shot": 5, "q_query": 15, "image_size": 84, "images": 15000, "episodes": args.episodes, "min_seconds": args.seconds,
        "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "hugepages": hugepages_supported(), "gc_frozen": args.freeze_gc, "device": args.device,
    }
    for key in ("fsfer", "learn2learn", "easyfsl", "fsfer_plain_pages", "fsfer_indices_only", "copy_floor", "gather_floor"):
        print(f"{key:18s} {results[key]:9.1f} episodes/s")
    print(f"fsfer / learn2learn = {results['fsfer_vs_learn2learn']:.1f}x (target >= 20x)")
    print(f"fsfer / easyfsl     = {results['fsfer_vs_easyfsl']:.1f}x (target >= 5x)")
    print(f"(fsfer over the tensor without huge pages: {results['fsfer_plain_pages'] / results['learn2learn']:.1f}x learn2learn, "
          f"{results['fsfer_plain_pages'] / results['easyfsl']:.1f}x easyfsl)")
    print(f"(indices only, no image copied: {results['fsfer_indices_only'] / results['learn2learn']:.1f}x learn2learn, "
          f"{results['fsfer_indices_only'] / results['easyfsl']:.1f}x easyfsl)")
    print(f"ceiling of this machine: the bare copy of one episode's bytes is {results['copy_floor_vs_learn2learn']:.1f}x learn2learn, "
          f"the random-row gather alone {results['gather_floor_vs_learn2learn']:.1f}x; fsfer runs at "
          f"{100 * results['fsfer_vs_gather_floor']:.0f}% of the gather")
    print(f"learn2learn MetaDataset bookkeeping: {results['learn2learn_bookkeeping_s']:.2f} s (fsfer: from labels, ~0)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"setting": setting, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
