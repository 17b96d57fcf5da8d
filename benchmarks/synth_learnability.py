"""Is SynthFER learnable, and not trivially? A nearest-centroid check on raw pixels.

Run: ``.venv/bin/python benchmarks/synth_learnability.py [--subjects 40] [--per-subject 3] [--size 48]``.

It renders the ``synth`` dataset once, then with subject-disjoint train (the
official ``train`` + ``val`` subjects) and test (``test`` subjects) reports:

1. how far apart the per-category mean images are (they must differ);
2. the accuracy of a nearest-centroid classifier on raw pixels (numpy) over the 7
   basic categories, per domain and across domains (lab -> wild), against chance;
3. the same over all 22 categories, with the most confused pairs and their core-AU
   overlap (Jaccard): Du et al. (2014) predicts that categories sharing core AUs
   are the hard ones, and the mean confusion of high-overlap pairs shows it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from fsfer import emotions
from fsfer.synth.aus import CATEGORIES
from fsfer.synth.dataset import decode, read


def pixels(records: pd.DataFrame, size: int) -> np.ndarray:
    """Raw pixels ``float32 [N, size*size*3]`` in [0, 1] of every record."""
    return np.stack([decode(row, size).reshape(-1) for _, row in records.iterrows()]).astype(np.float32) / 255.0


def nearest_centroid(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_classes: int) -> np.ndarray:
    """Predicted class of each test row: the class whose mean training image is closest (L2)."""
    centroids = np.stack([x_train[y_train == c].mean(axis=0) for c in range(n_classes)])
    d = (x_test**2).sum(1)[:, None] - 2 * x_test @ centroids.T + (centroids**2).sum(1)[None, :]
    return d.argmin(axis=1)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Row-normalised confusion matrix ``[n, n]`` (rows: true class)."""
    m = np.zeros((n, n))
    np.add.at(m, (y_true, y_pred), 1)
    return m / np.maximum(m.sum(1, keepdims=True), 1)


def core_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the core AUs of two categories (0 for neutral)."""
    ca, cb = set(CATEGORIES[a].core), set(CATEGORIES[b].core)
    return len(ca & cb) / len(ca | cb) if ca | cb else 0.0


def pair_confusions(conf: np.ndarray, classes: list[str]) -> list[tuple[str, str, float, float]]:
    """Every unordered pair ``(a, b, mean confusion rate, core-AU overlap)``, most confused first."""
    pairs = [
        (classes[i], classes[j], 0.5 * (conf[i, j] + conf[j, i]), core_overlap(classes[i], classes[j]))
        for i in range(len(classes))
        for j in range(i + 1, len(classes))
    ]
    return sorted(pairs, key=lambda p: -p[2])


def standardise(x: np.ndarray) -> np.ndarray:
    """Each image to zero mean and unit variance over its pixels."""
    return (x - x.mean(1, keepdims=True)) / np.maximum(x.std(1, keepdims=True), 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--per-subject", type=int, default=3)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    records = read("", subjects=args.subjects, per_subject=args.per_subject, size=args.size, seed=args.seed)
    x_all = pixels(records, args.size)
    train = records["split"].isin(["train", "val"]).to_numpy()
    domain = records["domain"].to_numpy()
    labels = records["label"].to_numpy()
    n_train = records.loc[train, "subject"].nunique()
    n_test = records.loc[~train, "subject"].nunique()
    print(f"SynthFER learnability: {args.subjects} subjects ({n_train} train+val, {n_test} test, disjoint), "
          f"{args.per_subject} images per subject and category, {args.size} px, seed {args.seed}; "
          f"rendered {len(records)} images in {time.perf_counter() - start:.1f} s")

    # 1. Per-category mean images differ.
    for dom in ("lab", "wild"):
        mask = domain == dom
        x = x_all[mask]
        means = np.stack([x[labels[mask] == c].mean(0) for c in emotions.BASIC])
        dist = np.sqrt(((means[:, None] - means[None]) ** 2).mean(-1))
        off = dist[~np.eye(len(means), dtype=bool)]
        print(f"[{dom}] RMS distance between the 7 basic category mean images: min {off.min():.4f}, "
              f"mean {off.mean():.4f} (pixel std {x.std():.4f})")

    def run(classes: list[str], tr_dom: str, te_dom: str, std: bool = False) -> tuple[float, np.ndarray, int, int]:
        index = {c: i for i, c in enumerate(classes)}
        keep = np.isin(labels, classes)
        tr = keep & train & (domain == tr_dom)
        te = keep & ~train & (domain == te_dom)
        x_tr, x_te = x_all[tr], x_all[te]
        if std:
            x_tr, x_te = standardise(x_tr), standardise(x_te)
        y_tr = np.array([index[c] for c in labels[tr]])
        y_te = np.array([index[c] for c in labels[te]])
        pred = nearest_centroid(x_tr, y_tr, x_te, len(classes))
        return float((pred == y_te).mean()), confusion(y_te, pred, len(classes)), int(tr.sum()), int(te.sum())

    # 2. Nearest centroid, 7 basic categories.
    basic = list(emotions.BASIC)
    for name, tr_dom, te_dom in (("lab", "lab", "lab"), ("wild", "wild", "wild"), ("lab->wild", "lab", "wild")):
        acc, _, n_tr, n_te = run(basic, tr_dom, te_dom)
        acc_std, _, _, _ = run(basic, tr_dom, te_dom, std=True)
        print(f"nearest centroid, 7 basic, {name:9s}: accuracy {acc:.3f} raw pixels, {acc_std:.3f} standardised "
              f"(chance {1 / len(basic):.3f}; {n_tr} train / {n_te} test images)")

    # 3. All 22 categories: the most confused pairs and their core-AU overlap.
    classes = list(emotions.BASIC + emotions.COMPOUND)
    for dom in ("lab", "wild"):
        acc, conf, _, _ = run(classes, dom, dom)
        pairs = pair_confusions(conf, classes)
        high = [p[2] for p in pairs if p[3] >= 0.5]
        low = [p[2] for p in pairs if p[3] < 0.5]
        print(f"nearest centroid, 22 categories, {dom}: accuracy {acc:.3f} (chance {1 / len(classes):.3f}); "
              f"mean pair confusion {np.mean(high):.3f} for the {len(high)} pairs sharing >= half their core AUs, "
              f"{np.mean(low):.3f} for the other {len(low)}")
        for a, b, rate, overlap in pairs[:8]:
            print(f"    {a:22s} <-> {b:22s} confusion {rate:.3f}  core-AU overlap {overlap:.2f}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
