"""Images/s of the ImageStore: a first load (decode, resize, write the cache) and a cached load.

Builds a RAF-DB-like folder of JPEG faces (100x100, like RAF-DB's aligned images) in a
temporary folder, then loads it twice at 64 px. Writes ``benchmarks/results/store_speed.json``.

    .venv/bin/python benchmarks/store_speed.py [--images 6000] [--size 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fsfer.store import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "store_speed.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    classes = ["happiness", "sadness", "anger", "surprise", "fear", "disgust", "neutral"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "faces"
        base = rng.integers(0, 256, (8, 100, 100, 3), dtype=np.uint8)
        for i in range(args.images):
            folder = root / classes[i % len(classes)]
            folder.mkdir(parents=True, exist_ok=True)
            noisy = np.clip(base[i % 8].astype(np.int16) + rng.integers(-20, 20, (100, 100, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(folder / f"{i:06d}.jpg", quality=90)
        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        first = load_dataset(f"folder:{root}", args.size, cache_dir=cache)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = load_dataset(f"folder:{root}", args.size, cache_dir=cache)
        t_cached = time.perf_counter() - t0
        assert len(first) == len(second) == args.images
    result = {
        "images": args.images, "image_size": args.size,
        "first_load_images_per_s": args.images / t_first, "cached_load_images_per_s": args.images / t_cached,
        "first_load_s": t_first, "cached_load_s": t_cached,
    }
    print(f"first load : {result['first_load_images_per_s']:10.0f} images/s ({t_first:.2f} s for {args.images} JPEGs)")
    print(f"cached load: {result['cached_load_images_per_s']:10.0f} images/s ({t_cached:.3f} s; list + cache key + memory-map)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
