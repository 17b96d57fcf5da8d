"""Is SynthFER learnable, and not trivially? A nearest-centroid check on raw pixels.

Run: ``.venv/bin/python benchmarks/synth_learnability.py [--subjects 40] [--per-subject 3] [--size 48]``.

It renders the ``synth`` dataset, then with subject-disjoint train (official
``train`` + ``val`` subjects) and test (``test`` subjects):

1. how far apart the per-category mean images are (they must differ);
2. the accuracy of a nearest-centroid classifier on raw pixels (numpy) over the 7
   basic categories, per domain and across domains (lab -> wild), against chance;
3. the same over all 22 categories, with the most confused pairs and whether
   they share core AUs (Du et al. 2014 predicts they should be the hard ones).
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


def nearest_centroid(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, classes: list[str]) -> np.ndarray:
    """Predicted class index of each test row: the class whose mean training image is closest (L2)."""
    centroids = np.stack([x_train[y_train == c].mean(axis=0) for c in range(len(classes))])
    d = (x_test**2).sum(1)[:, None] - 2 * x_test @ centroids.T + (centroids**2).sum(1)[None, :]
    return d.argmin(axis=1)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Row-normalised confusion matrix ``[n, n]`` (rows: true class)."""
    m = np.zeros((n, n))
    np.add.at(m, (y_true, y_pred), 1)
    return m / np.maximum(m.sum(1, keepdims=True), 1)


def top_confusions(conf: np.ndarray, classes: list[str], k: int = 8) -> list[tuple[str, str, float, bool]]:
    """The ``k`` most confused unordered pairs: ``(a, b, mean confusion rate, share core AUs)``."""
    pairs = []
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            rate = 0.5 * (conf[i, j] + conf[j, i])
            shared = set(CATEGORIES[classes[i]].core) == set(CATEGORIES[classes[j]].core)
            pairs.append((classes[i], classes[j], rate, shared))
    return sorted(pairs, key=lambda p: -p[2])[:k]


def evaluate(train: pd.DataFrame, test: pd.DataFrame, classes: list[str], size: int) -> tuple[float, np.ndarray]:
    """Accuracy and confusion matrix of nearest centroid trained on ``train``, tested on ``test``."""
    index = {c: i for i, c in enumerate(classes)}
    x_tr, x_te = pixels(train, size), pixels(test, size)
    y_tr = train["label"].map(index).to_numpy()
    y_te = test["label"].map(index).to_numpy()
    pred = nearest_centroid(x_tr, y_tr, x_te, classes)
    return float((pred == y_te).mean()), confusion(y_te, pred, len(classes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--per-subject", type=int, default=3)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    opts = dict(subjects=args.subjects, per_subject=args.per_subject, size=args.size, seed=args.seed)
    records = read("", **opts)
    train_mask = records["split"].isin(["train", "val"])
    n_train = records.loc[train_mask, "subject"].nunique()
    n_test = records.loc[~train_mask, "subject"].nunique()
    print(f"SynthFER learnability: {args.subjects} subjects ({n_train} train+val, {n_test} test, disjoint), "
          f"{args.per_subject} images per subject and category, {args.size} px, seed {args.seed}")

    # 1. Per-category mean images differ.
    for domain in ("lab", "wild"):
        part = records[records["domain"] == domain]
        x = pixels(part, args.size)
        means = np.stack([x[(part["label"] == c).to_numpy()].mean(0) for c in emotions.BASIC])
        dist = np.sqrt(((means[:, None] - means[None]) ** 2).mean(-1))
        off = dist[~np.eye(len(means), dtype=bool)]
        spread = float(np.sqrt(((x - x.mean(0)) ** 2).mean()))
        print(f"[{domain}] RMS distance between basic-category mean images: min {off.min():.4f}, "
              f"mean {off.mean():.4f} (pixel std {spread:.4f})")

    # 2. Nearest centroid, 7 basic categories.
    basic = list(emotions.BASIC)
    chance = 1.0 / len(basic)
    is_basic = records["label"].isin(basic)
    for name, tr_dom, te_dom in (("lab", "lab", "lab"), ("wild", "wild", "wild"), ("lab->wild", "lab", "wild")):
        tr = records[is_basic & train_mask & (records["domain"] == tr_dom)]
        te = records[is_basic & ~train_mask & (records["domain"] == te_dom)]
        acc, _ = evaluate(tr, te, basic, args.size)
        print(f"nearest centroid, 7 basic, {name:9s}: accuracy {acc:.3f} (chance {chance:.3f}; "
              f"{len(tr)} train / {len(te)} test images)")

    # 3. All 22 categories: most confused pairs.
    classes = list(emotions.BASIC + emotions.COMPOUND)
    for domain in ("lab", "wild"):
        tr = records[train_mask & (records["domain"] == domain)]
        te = records[~train_mask & (records["domain"] == domain)]
        acc, conf = evaluate(tr, te, classes, args.size)
        print(f"nearest centroid, 22 categories, {domain}: accuracy {acc:.3f} (chance {1 / len(classes):.3f})")
        pairs = top_confusions(conf, classes)
        n_shared = sum(p[3] for p in pairs)
        print(f"  most confused pairs ({n_shared} of {len(pairs)} share their core AUs):")
        for a, b, rate, shared in pairs:
            print(f"    {a:22s} <-> {b:22s} {rate:.3f}{'  (same core AUs)' if shared else ''}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
