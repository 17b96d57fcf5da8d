"""Throughput of the SynthFER renderer: images per second on one core, per domain and size.

Run: ``.venv/bin/python benchmarks/synth_speed.py [--subjects 40] [--per-subject 3] [--sizes 64,112,224]``.
The first line times the default dataset (40 subjects x 22 categories x 3 images x
2 domains = 5,280 images at 64 px); the others time each domain and size on a sample.
"""

from __future__ import annotations

import argparse
import os
import time

from fsfer.synth.catalog import synth_images
from fsfer.synth.options import check_options
from fsfer.synth.render import render_image


def time_render(domain: str, subjects: int, per_subject: int, size: int, limit: int | None = None) -> tuple[int, float]:
    """Render the images of the options (the first ``limit`` only) and return ``(count, seconds)``."""
    options = check_options(domain, subjects=subjects, per_subject=per_subject, size=size)
    images = list(synth_images(options))[:limit]
    start = time.perf_counter()
    for image in images:
        render_image(image, size)
    return len(images), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--per-subject", type=int, default=3)
    parser.add_argument("--sizes", default="32,64,112,224")
    args = parser.parse_args()
    print(f"SynthFER render speed (one process, pid {os.getpid()}; numbers vary with machine load)")
    n, sec = time_render("both", args.subjects, args.per_subject, 64)
    print(f"default dataset: {n} images at 64 px in {sec:.1f} s = {n / sec:.0f} images/s")
    for size in (int(s) for s in args.sizes.split(",")):
        for domain in ("lab", "wild"):
            n, sec = time_render(domain, 10, 1, size, limit=220)
            print(f"{domain:4s} {size:3d} px: {n / sec:6.0f} images/s ({1000 * sec / n:.2f} ms/image)")


if __name__ == "__main__":
    main()
