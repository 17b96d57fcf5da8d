"""Linear AU probes of a frozen embedder: which facial action units its features hold.

:func:`probe_aus` embeds every image of a dataset with AU truth (SynthFER, or a folder
written by ``fsfer synth OUT_DIR``, whose ``manifest.csv`` carries ``au1`` ... ``au26``)
with a checkpoint's embedder in eval mode (global-average-pooled features ``[N, C]``),
splits the images by subject (the official ``train`` / ``test`` split, else a seeded
subject-disjoint 70/30 split) and, per AU, fits on the training subjects and scores on
the held-out ones:

- **ridge regression** on the intensity, closed form, features standardised on the
  training rows, penalty ``lambda = 1.0 x the number of features`` on the summed squared
  error (:data:`RIDGE_LAMBDA_PER_FEATURE`) -> R^2 on the held-out rows;
- **logistic regression** on presence (intensity > 0), the same standardisation and the
  same penalty per row (mean log-loss + ``lambda / n_train * |w|^2``), fitted by torch
  LBFGS from a zero start (deterministic) -> ROC-AUC on the held-out rows (rank-based
  Mann-Whitney, ties counted half);
- a 95% interval over subjects: the held-out subjects are resampled with replacement
  (seeded, :data:`BOOTSTRAP_RESAMPLES` times; the probes are not refitted) and the 2.5th
  and 97.5th percentiles of R^2 and AUC are taken.

The same probes run beside the checkpoint on two baselines: a random-initialised copy of
the embedder (same constructor under ``torch.manual_seed(0)``, in a forked RNG so the
caller's random state is untouched) and raw pixels: the normalised image averaged over
its colour channels to grey and average-pooled to at most 32 x 32 (:data:`PIXEL_SIDE`;
1,024 features at 32 px and above).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from fsfer.errors import ConfigError, DataError

#: Ridge penalty per feature: ``lambda = RIDGE_LAMBDA_PER_FEATURE * n_features`` (on standardised features).
RIDGE_LAMBDA_PER_FEATURE = 1.0
#: LBFGS iterations of a logistic probe.
LOGISTIC_STEPS = 50
#: Subject resamples of the bootstrap interval.
BOOTSTRAP_RESAMPLES = 200
#: The pixel baseline's side: grey images average-pooled to at most ``PIXEL_SIDE x PIXEL_SIDE``.
PIXEL_SIDE = 32
#: Images per forward pass when embedding.
BATCH_SIZE = 256
#: Data probed when none is named: SynthFER, both domains (5,280 images, official subject split).
DEFAULT_DATA = "synth"
#: Share of subjects held out when the data has no official train/test split.
TEST_SHARE = 0.3
#: The three feature sets probed, in table order.
FEATURE_SETS: tuple[str, ...] = ("trained", "random", "pixels")


def au_names() -> dict[int, str]:
    """FACS names of the AUs SynthFER renders (``{1: "inner brow raiser", ...}``)."""
    from fsfer.synth.aus import AU_NAMES

    return dict(AU_NAMES)


def parse_aus(aus: str | Sequence[int] | None) -> list[int] | None:
    """``"1,2,4"`` (or a list of numbers) -> ``[1, 2, 4]``; ``None`` stays ``None`` (every AU that varies).

    A ConfigError names a number that is not an AU SynthFER knows.
    """
    if aus is None:
        return None
    if isinstance(aus, str):
        parts = [p.strip().lower().removeprefix("au") for p in aus.split(",") if p.strip()]
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(f"--aus {aus}: expected AU numbers separated by commas, such as 1,2,4") from None
    else:
        numbers = [int(a) for a in aus]
    known = au_names()
    if not numbers:
        raise ConfigError("--aus is empty; name AU numbers such as 1,2,4, or leave it out to probe every AU that varies")
    for number in numbers:
        if number not in known:
            raise ConfigError(f"--aus: unknown AU {number}; choose from {', '.join(str(a) for a in known)}")
    return list(dict.fromkeys(numbers))


def au_columns(records: pd.DataFrame) -> list[str]:
    """The AU intensity columns (``au1``, ``au12``, ...) of a Records table, in AU order."""
    cols = [c for c in records.columns if isinstance(c, str) and c.startswith("au") and c[2:].isdigit()]
    return sorted(cols, key=lambda c: int(c[2:]))


# ---------------------------------------------------------------- small pieces


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks of ``x`` ``[n]``, tied values sharing their average rank; float64 ``[n]``."""
    order = torch.argsort(x, stable=True)
    _, counts = torch.unique_consecutive(x[order], return_counts=True)
    ends = counts.cumsum(0).double()
    average = ends - (counts.double() - 1) / 2
    ranks = torch.empty(x.numel(), dtype=torch.float64)
    ranks[order] = average.repeat_interleave(counts)
    return ranks


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC-AUC of ``scores`` ``[n]`` for boolean ``labels`` ``[n]``: the Mann-Whitney U over n_pos * n_neg.

    The chance that a random positive scores above a random negative, ties counting half;
    NaN when one class is absent.
    """
    positive = labels.bool().flatten()
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(scores.flatten().double())
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def r2_score(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Coefficient of determination per column: ``1 - SS_res / SS_tot``; ``[n]`` or ``[n, k]`` -> ``[k]``.

    SS_tot is about the target's own mean, so a constant prediction of that mean scores 0
    and worse predictions score below 0; NaN for a constant target.
    """
    y = target.double().reshape(target.shape[0], -1)
    p = prediction.double().reshape(prediction.shape[0], -1)
    ss_res = ((y - p) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    out = 1 - ss_res / ss_tot
    return torch.where(ss_tot > 0, out, torch.full_like(out, float("nan")))


@dataclass
class Standardiser:
    """Per-feature ``(x - mean) / scale`` with ``mean``, ``scale`` ``[p]`` from training rows (scale 1 where constant)."""

    mean: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> "Standardiser":
        x = x.double()
        scale = x.std(0, unbiased=False)
        return cls(mean=x.mean(0), scale=torch.where(scale > 1e-12, scale, torch.ones_like(scale)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.double() - self.mean) / self.scale


@dataclass
class RidgeProbe:
    """A fitted ridge regression: ``predict(x [n, p]) -> [n, k]``."""

    standardiser: Standardiser
    weight: torch.Tensor  # [p, k]
    bias: torch.Tensor  # [k]
    lam: float

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardiser(x) @ self.weight + self.bias


def fit_ridge(x: torch.Tensor, y: torch.Tensor, lam: float | None = None) -> RidgeProbe:
    """Closed-form ridge of ``y`` ``[n]`` or ``[n, k]`` on ``x`` ``[n, p]``, features standardised on these rows.

    ``w = (Z^T Z + lam I)^-1 Z^T (y - mean y)``, bias ``mean y``; ``lam`` defaults to
    ``RIDGE_LAMBDA_PER_FEATURE * p``. Every column of ``y`` is fitted at once (same ``Z``).
    """
    standardiser = Standardiser.fit(x)
    z = standardiser(x)
    target = y.double().reshape(y.shape[0], -1)
    p = z.shape[1]
    lam = RIDGE_LAMBDA_PER_FEATURE * p if lam is None else float(lam)
    bias = target.mean(0)
    gram = z.T @ z + lam * torch.eye(p, dtype=z.dtype)
    weight = torch.linalg.solve(gram, z.T @ (target - bias))
    return RidgeProbe(standardiser=standardiser, weight=weight, bias=bias, lam=lam)


@dataclass
class LogisticProbe:
    """A fitted logistic regression: ``decision(x [n, p]) -> [n]`` logits."""

    standardiser: Standardiser
    weight: torch.Tensor  # [p]
    bias: torch.Tensor  # []
    l2: float

    def decision(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardiser(x) @ self.weight + self.bias


def fit_logistic(x: torch.Tensor, y: torch.Tensor, l2: float | None = None, steps: int = LOGISTIC_STEPS) -> LogisticProbe:
    """L2 logistic regression of boolean ``y`` ``[n]`` on ``x`` ``[n, p]`` (standardised on these rows).

    Minimises mean log-loss + ``l2 * |w|^2`` (bias unpenalised) with torch LBFGS (strong
    Wolfe line search, ``steps`` iterations) from ``w = 0`` and the bias at the log-odds of
    the positive rate: deterministic, no random start. ``l2`` defaults to
    ``RIDGE_LAMBDA_PER_FEATURE * p / n``, the ridge's penalty per row.
    """
    standardiser = Standardiser.fit(x)
    z = standardiser(x)
    target = y.double().flatten()
    n, p = z.shape
    l2 = RIDGE_LAMBDA_PER_FEATURE * p / n if l2 is None else float(l2)
    rate = float(target.mean().clamp(1e-6, 1 - 1e-6))
    weight = torch.zeros(p, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(math.log(rate / (1 - rate)), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ weight + bias, target) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    return LogisticProbe(standardiser=standardiser, weight=weight.detach(), bias=bias.detach(), l2=l2)


def bootstrap_ci(
    statistic: Callable[[torch.Tensor], torch.Tensor],
    groups: torch.Tensor,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> torch.Tensor:
    """Percentile interval of ``statistic(rows) -> [k]`` over resampled groups (subjects): ``[k, 2]``.

    ``groups`` ``[n]`` holds each row's group id; each resample draws as many groups as
    there are, with replacement (a ``torch.Generator`` seeded by ``seed``), and passes the
    rows of the drawn groups (repeated as drawn) to ``statistic``. NaN draws (e.g. an AUC
    with one class absent) are left out; an interval with no valid draw is NaN.
    """
    ids = torch.unique(groups)
    members = [torch.nonzero(groups == g).flatten() for g in ids]
    generator = torch.Generator().manual_seed(int(seed))
    values = []
    for _ in range(int(resamples)):
        drawn = torch.randint(len(members), (len(members),), generator=generator)
        rows = torch.cat([members[int(i)] for i in drawn])
        values.append(torch.as_tensor(statistic(rows), dtype=torch.float64).reshape(-1))
    stacked = torch.stack(values)  # [resamples, k]
    tail = (1 - level) / 2
    q = torch.tensor([tail, 1 - tail], dtype=torch.float64)
    return torch.nanquantile(stacked, q, dim=0).T


# ---------------------------------------------------------------- features


@torch.no_grad()
def embed_images(
    embedder: torch.nn.Module,
    images: torch.Tensor,
    normalise: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = BATCH_SIZE,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "embedding",
) -> torch.Tensor:
    """Global-average-pooled features ``[N, C]`` (float32, CPU) of uint8 images ``[N, 3, S, S]``, in eval mode."""
    from tqdm.auto import tqdm

    was_training = embedder.training
    embedder.eval()
    out = []
    try:
        for lo in tqdm(range(0, images.shape[0], batch_size), desc=desc, unit="batch", disable=None if progress else True, leave=False):
            x = normalise(images[lo : lo + batch_size].to(device))
            f = embedder(x)
            out.append((f.flatten(2).mean(-1) if f.dim() > 2 else f.flatten(1)).float().cpu())
    finally:
        embedder.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 0)


@torch.no_grad()
def pixel_features(
    images: torch.Tensor, normalise: Callable[[torch.Tensor], torch.Tensor], side: int = PIXEL_SIDE
) -> torch.Tensor:
    """Raw-pixel baseline ``[N, s * s]``: normalised, averaged to grey, average-pooled to ``s = min(side, S)``."""
    s = min(int(side), int(images.shape[-1]))
    out = []
    for lo in range(0, images.shape[0], 1024):
        grey = normalise(images[lo : lo + 1024]).mean(1, keepdim=True)
        out.append(F.adaptive_avg_pool2d(grey, s).flatten(1).float())
    return torch.cat(out) if out else torch.empty(0, s * s)


# ---------------------------------------------------------------- splits


def subject_split(records: pd.DataFrame, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices ``(train, test)`` of a subject-disjoint split, and which split it is.

    The official split when the records have ``train`` and ``test`` rows whose subjects
    do not overlap (``"official"``; ``val`` rows are left out); otherwise the subjects
    are shuffled by a generator seeded with ``seed`` and 30% of them held out
    (``"seeded 70/30"``). Images without a subject are a DataError.
    """
    where = records.attrs.get("spec", records.attrs.get("root", "the dataset"))
    subjects = records["subject"]
    if subjects.isna().any():
        raise DataError(
            f"{where}: {int(subjects.isna().sum())} image(s) have no subject; probes fit and score on different people, "
            "so give every image a subject (a subject column in manifest.csv, or ?subject=REGEX)"
        )
    split = records["split"].astype(str).to_numpy()
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    if len(train) and len(test) and not set(subjects.iloc[train]) & set(subjects.iloc[test]):
        return train, test, "official"
    people = sorted(set(subjects))
    if len(people) < 2:
        raise DataError(f"{where}: images of {len(people)} subject(s); a probe needs at least 2 (one to fit, one to score)")
    order = torch.randperm(len(people), generator=torch.Generator().manual_seed(int(seed))).tolist()
    n_test = min(len(people) - 1, max(1, round(TEST_SHARE * len(people))))
    held = {people[i] for i in order[:n_test]}
    is_test = subjects.isin(held).to_numpy()
    return np.flatnonzero(~is_test), np.flatnonzero(is_test), "seeded 70/30"


# ---------------------------------------------------------------- results


@dataclass
class AUScore:
    """One AU's probe scores on the held-out subjects: R^2 and ROC-AUC per feature set, and intervals."""

    au: int
    name: str
    r2: float
    r2_random: float
    r2_pixels: float
    auc: float
    auc_random: float
    auc_pixels: float
    ci95: tuple[float, float]  # of r2 (trained), over subjects
    auc_ci95: tuple[float, float]  # of auc (trained), over subjects
    test_positive: float  # share of held-out images with the AU on

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "r2": _num(self.r2),
            "r2_random": _num(self.r2_random),
            "r2_pixels": _num(self.r2_pixels),
            "auc": _num(self.auc),
            "auc_random": _num(self.auc_random),
            "auc_pixels": _num(self.auc_pixels),
            "ci95": [_num(v) for v in self.ci95],
            "auc_ci95": [_num(v) for v in self.auc_ci95],
            "test_positive": _num(self.test_positive),
        }


@dataclass
class ProbeResult:
    """What :func:`probe_aus` found: one :class:`AUScore` per AU and how it was measured."""

    checkpoint: str
    kind: str
    backbone: str
    image_size: int
    data: str
    split: str
    train_subjects: int
    test_subjects: int
    train_images: int
    test_images: int
    features: dict[str, int]
    aus: list[AUScore] = field(default_factory=list)
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = 0
    seconds: float = 0.0

    def mean(self, key: str, aus: Sequence[int] | None = None) -> float:
        """Mean of one score (``r2``, ``auc_random``, ...) over the probed AUs (or over ``aus``), NaNs left out."""
        values = [getattr(a, key) for a in self.aus if aus is None or a.au in aus]
        values = [v for v in values if not math.isnan(v)]
        return float(np.mean(values)) if values else float("nan")

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready dict: ``aus`` by column name (``au1``: scores), the split and the means."""
        keys = ("r2", "r2_random", "r2_pixels", "auc", "auc_random", "auc_pixels")
        return {
            "aus": {f"au{a.au}": a.to_json() for a in self.aus},
            "mean": {k: _num(self.mean(k)) for k in keys},
            "test_subjects": self.test_subjects,
            "train_subjects": self.train_subjects,
            "test_images": self.test_images,
            "train_images": self.train_images,
            "split": self.split,
            "checkpoint": self.checkpoint,
            "kind": self.kind,
            "backbone": self.backbone,
            "image_size": self.image_size,
            "data": self.data,
            "features": dict(self.features),
            "ridge_lambda": f"{RIDGE_LAMBDA_PER_FEATURE:g} x features",
            "resamples": self.resamples,
            "seed": self.seed,
            "seconds": round(self.seconds, 2),
        }


def _num(v: float) -> float | None:
    """A float for JSON: NaN becomes ``None`` (``null``), others rounded to 4 places."""
    return None if v is None or math.isnan(v) else round(float(v), 4)


# ---------------------------------------------------------------- probing


def _score_features(
    features: torch.Tensor, targets: torch.Tensor, train: torch.Tensor, test: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge predictions ``[n_test, k]`` and logistic decisions ``[n_test, k]`` (NaN where a class is absent)."""
    x_train, x_test = features[train], features[test]
    y_train = targets[train]
    prediction = fit_ridge(x_train, y_train).predict(x_test)
    decisions = torch.full((len(test), targets.shape[1]), float("nan"), dtype=torch.float64)
    present = y_train > 0
    for j in range(targets.shape[1]):
        on = present[:, j]
        if 0 < int(on.sum()) < len(on):
            decisions[:, j] = fit_logistic(x_train, on).decision(x_test)
    return prediction, decisions


def _aucs(decisions: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    return torch.tensor([auc(decisions[:, j], present[:, j]) if not decisions[:, j].isnan().any() else float("nan")
                         for j in range(decisions.shape[1])], dtype=torch.float64)


def load_probe_embedder(checkpoint: str | Path, device: torch.device | str = "cpu"):
    """A checkpoint's embedder (eval mode), its random-initialised twin, the checkpoint dict and its normalisation."""
    from fsfer.engine.build import build_backbone
    from fsfer.engine.checkpoint import checkpoint_normalise, checkpoint_path, load_checkpoint
    from fsfer.engine.predict import checkpoint_embedder, saved_config

    path = checkpoint_path(checkpoint)
    ckpt = load_checkpoint(path)
    cfg = saved_config(ckpt, path)
    embedder = checkpoint_embedder(ckpt, path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        random = build_backbone(cfg)
    normalise = checkpoint_normalise(ckpt)
    return embedder.to(device).eval(), random.to(device).eval(), ckpt, cfg, normalise


def probe_aus(
    checkpoint: str | Path,
    data: Any = DEFAULT_DATA,
    aus: str | Sequence[int] | None = None,
    *,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
    batch_size: int = BATCH_SIZE,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> ProbeResult:
    """Probe a checkpoint's frozen embedder for AU intensity (ridge, R^2) and presence (logistic, AUC).

    ``checkpoint``: a ``best.pt``/``last.pt`` of ``fsfer episode-train`` or ``fsfer pretrain``
    (or its run folder). ``data``: a data spec whose records carry ``auN`` columns
    (default ``synth``), or an :class:`~fsfer.store.ImageStore` already loaded at the
    checkpoint's image size. ``aus``: AU numbers (``"1,2,4"`` or a list); default every AU
    column that varies among both the training and the held-out subjects (an AU absent from one side
    can be neither fitted nor scored). See the module docstring for the probes, split and baselines.
    """
    from fsfer.datasets.spec import read_records
    from fsfer.store import ImageStore, load_dataset

    started = time.perf_counter()
    wanted = parse_aus(aus)
    if int(resamples) < 1:
        raise ConfigError(f"resamples must be at least 1; got {resamples}")
    embedder, random, ckpt, cfg, normalise = load_probe_embedder(checkpoint, device)
    size = int(ckpt.get("image_size", cfg.image_size))

    if isinstance(data, ImageStore):
        records, where = data.records, str(data.records.attrs.get("spec", "the given store"))
        if data.image_size != size:
            raise ConfigError(f"{where}: the store holds {data.image_size} px images but the checkpoint "
                              f"was trained at {size} px; load the data at {size} px")
    else:
        records, where = read_records(data), str(data)
    columns = _select_columns(records, wanted, where)
    store = data if isinstance(data, ImageStore) else load_dataset(records, size, progress=progress)

    targets_all = torch.tensor(store.records[columns].to_numpy(dtype=np.float64), dtype=torch.float64)
    known = torch.isfinite(targets_all).all(1).numpy()
    rows = store.records[known].reset_index(drop=True)
    rows.attrs.update(store.records.attrs)
    rows.attrs.setdefault("spec", where)
    if len(rows) == 0:
        raise DataError(f"{where}: no image has every probed AU intensity; fill the AU columns of manifest.csv")
    targets = targets_all[torch.from_numpy(known)]
    images = store.images[torch.from_numpy(np.flatnonzero(known))] if not known.all() else store.images
    train_np, test_np, how = subject_split(rows, seed)
    train, test = torch.from_numpy(train_np), torch.from_numpy(test_np)
    if wanted is None:  # by default only AUs that vary on both sides of the split can be fitted and scored
        scorable = [j for j in range(len(columns)) if _varies(targets[train, j]) and _varies(targets[test, j])]
        if not scorable:
            raise DataError(f"{where}: no AU varies among both the training and the held-out subjects; probe more subjects")
        columns, targets = [columns[j] for j in scorable], targets[:, scorable]

    feats = {
        "trained": embed_images(embedder, images, normalise, batch_size=batch_size, device=device, progress=progress,
                                desc="embedding (trained)"),
        "random": embed_images(random, images, normalise, batch_size=batch_size, device=device, progress=progress,
                               desc="embedding (random)"),
        "pixels": pixel_features(images, normalise),
    }
    y_test = targets[test]
    on_test = y_test > 0
    r2, aucs, kept = {}, {}, {}
    for name, x in feats.items():
        prediction, decisions = _score_features(x, targets, train, test)
        r2[name], aucs[name] = r2_score(y_test, prediction), _aucs(decisions, on_test)
        kept[name] = (prediction, decisions)

    prediction, decisions = kept["trained"]
    subject_ids = torch.from_numpy(pd.factorize(rows["subject"].iloc[test_np])[0])
    r2_ci = bootstrap_ci(lambda i: r2_score(y_test[i], prediction[i]), subject_ids, resamples, seed)
    auc_ci = bootstrap_ci(lambda i: _aucs(decisions[i], on_test[i]), subject_ids, resamples, seed)

    names = au_names()
    scores = []
    for j, col in enumerate(columns):
        number = int(col[2:])
        scores.append(AUScore(
            au=number, name=names.get(number, ""),
            r2=float(r2["trained"][j]), r2_random=float(r2["random"][j]), r2_pixels=float(r2["pixels"][j]),
            auc=float(aucs["trained"][j]), auc_random=float(aucs["random"][j]), auc_pixels=float(aucs["pixels"][j]),
            ci95=(float(r2_ci[j, 0]), float(r2_ci[j, 1])), auc_ci95=(float(auc_ci[j, 0]), float(auc_ci[j, 1])),
            test_positive=float(on_test[:, j].double().mean()),
        ))
    from fsfer.engine.checkpoint import checkpoint_kind, checkpoint_path

    return ProbeResult(
        checkpoint=str(checkpoint_path(checkpoint)), kind=checkpoint_kind(ckpt), backbone=cfg.backbone, image_size=size,
        data=where, split=how,
        train_subjects=int(rows["subject"].iloc[train_np].nunique()), test_subjects=int(rows["subject"].iloc[test_np].nunique()),
        train_images=len(train_np), test_images=len(test_np),
        features={k: int(v.shape[1]) for k, v in feats.items()}, aus=scores, resamples=int(resamples), seed=int(seed),
        seconds=time.perf_counter() - started,
    )


def _varies(values: torch.Tensor) -> bool:
    return values.numel() > 1 and bool((values != values[0]).any())


def _select_columns(records: pd.DataFrame, wanted: list[int] | None, where: str) -> list[str]:
    """The AU columns to probe: ``wanted`` (each must be there and vary) or every column that varies."""
    present = au_columns(records)
    if not present:
        raise DataError(
            f"{where}: the dataset has no AU intensity columns (au1 ... au26); probe SynthFER (--data synth) or a "
            "folder written by `fsfer synth OUT_DIR`, whose manifest.csv carries them"
        )
    varies = [c for c in present if pd.to_numeric(records[c], errors="coerce").dropna().nunique() > 1]
    if wanted is None:
        if not varies:
            raise DataError(f"{where}: no AU intensity column varies ({', '.join(present)}); probe data with expressions")
        return varies
    out = []
    for number in wanted:
        col = f"au{number}"
        if col not in present:
            raise DataError(f"{where}: has no column {col} (it has {', '.join(present)}); leave AU{number} out of --aus")
        if col not in varies:
            raise DataError(f"{where}: AU{number} does not vary in this data ({col} is constant); leave it out of --aus")
        out.append(col)
    return out


# ---------------------------------------------------------------- outputs

CSV_COLUMNS: tuple[str, ...] = (
    "au", "name", "r2", "r2_lo", "r2_hi", "r2_random", "r2_pixels",
    "auc", "auc_lo", "auc_hi", "auc_random", "auc_pixels", "test_positive",
)


def write_csv(result: ProbeResult, path: str | Path) -> Path:
    """``au_probe.csv``: one row per AU (:data:`CSV_COLUMNS`; empty cells for NaN)."""
    path = Path(path)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for a in result.aus:
            values = [a.r2, a.ci95[0], a.ci95[1], a.r2_random, a.r2_pixels,
                      a.auc, a.auc_ci95[0], a.auc_ci95[1], a.auc_random, a.auc_pixels, a.test_positive]
            writer.writerow([a.au, a.name] + ["" if math.isnan(v) else f"{v:.4f}" for v in values])
    return path


#: Colours of the three feature sets in the figures (trained, random, pixels).
COLOURS: dict[str, str] = {"trained": "#1f77b4", "random": "#bbbbbb", "pixels": "#ff7f0e"}
#: Panel titles of ``au_probe.png``.
PANELS: tuple[str, str] = ("R^2 of AU intensity (ridge), held-out subjects", "ROC-AUC of AU presence (logistic), held-out subjects")


def draw_probe(result: ProbeResult, path: str | Path) -> list[str]:
    """``au_probe.png``: grouped bars per AU (trained with its 95% CI, random, pixels); R^2 panel over AUC panel.

    Returns the panel titles. A plain Agg-rendered :class:`matplotlib.figure.Figure`, as in :mod:`fsfer.report`.
    """
    from matplotlib.figure import Figure

    n = len(result.aus)
    fig = Figure(figsize=(max(6.0, 0.6 * n + 2.0), 7.5), dpi=100, layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    x = np.arange(n)
    width = 0.27
    labels = [f"AU{a.au} {a.name}" for a in result.aus]
    for ax, metric, title in zip(axes, ("r2", "auc"), PANELS):
        for k, name in enumerate(FEATURE_SETS):
            key = metric if name == "trained" else f"{metric}_{name}"
            values = np.array([getattr(a, key) for a in result.aus], dtype=float)
            err = None
            if name == "trained":
                ci = np.array([a.ci95 if metric == "r2" else a.auc_ci95 for a in result.aus], dtype=float)
                err = np.abs(np.stack([values - ci[:, 0], ci[:, 1] - values]))
                err = np.nan_to_num(err)
            ax.bar(x + (k - 1) * width, np.nan_to_num(values), width, yerr=err, capsize=2, color=COLOURS[name],
                   label={"trained": "trained embedder (95% CI over subjects)", "random": "random embedder",
                          "pixels": "raw pixels"}[name])
        ax.axhline(0.5 if metric == "auc" else 0.0, color="black", linewidth=0.8, linestyle="--" if metric == "auc" else "-")
        ax.set_title(title)
        ax.set_ylabel("R^2" if metric == "r2" else "AUC")
        ax.set_ylim(*((min(0.0, _low(result, "r2")), 1.0) if metric == "r2" else (0.3, 1.0)))
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="upper right", fontsize="small")
    axes[1].set_xticks(x, labels, rotation=45, ha="right")
    fig.suptitle(f"AU probe: {'/'.join(Path(result.checkpoint).parts[-3:])} "
                 f"({result.kind}, {result.backbone}, {result.image_size} px) on {result.data}, "
                 f"{result.test_subjects} held-out subjects", fontsize="medium")
    fig.savefig(path, dpi=100, metadata={"Software": None})
    titles = [ax.get_title() for ax in axes]
    fig.clear()
    return titles


def _low(result: ProbeResult, metric: str) -> float:
    values = [getattr(a, k) for a in result.aus for k in (metric, f"{metric}_random", f"{metric}_pixels")]
    values = [v for v in values if not math.isnan(v)]
    return max(-1.0, min(values, default=0.0) - 0.05)


def write_outputs(result: ProbeResult, out: str | Path) -> dict[str, Path]:
    """Write ``au_probe.csv`` and ``au_probe.png`` into ``out`` (created if needed)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(result, folder / "au_probe.csv")
    png_path = folder / "au_probe.png"
    draw_probe(result, png_path)
    return {"csv": csv_path, "png": png_path}


def check_out(out: str | Path | None) -> None:
    """ConfigError unless ``out`` can be a folder for the outputs (checked before any work)."""
    if out is None:
        return
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder}: exists and is not a folder; name a folder for au_probe.csv and au_probe.png")
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {folder}: cannot be created under {parent}; name a folder")
