"""Which images a SynthFER dataset holds, with their AU ground truth, without drawing any.

Each image is keyed by ``(seed, subject, category, index, domain)``; its AU
intensities come from the expression stream of that key, its subject's split from
the split stream of the seed. Listing 5,000 images costs well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator

from fsfer import emotions
from fsfer.synth.aus import sample_aus
from fsfer.synth.identity import Identity, make_identity
from fsfer.synth.options import SynthOptions
from fsfer.synth.seeding import DOMAINS, EXPRESSION, SPLIT, stream

#: Shares of subjects in the official train / val / test splits.
SPLIT_SHARES: tuple[float, float, float] = (0.7, 0.1, 0.2)


@dataclass(frozen=True)
class SynthImage:
    """Everything needed to render one image (its pixels also depend on the output size only)."""

    seed: int
    domain: str
    category: str
    subject: int
    index: int
    aus: dict[int, float] = field(hash=False, compare=True)
    side: str = "both"
    split: str = "train"


@lru_cache(maxsize=4096)
def identity(seed: int, subject: int) -> Identity:
    """The (cached) identity of ``subject`` under ``seed``."""
    return make_identity(seed, subject)


def subject_name(subject: int, subjects: int = 1000) -> str:
    """``s007``: the subject id in Records (zero-padded to at least 3 digits)."""
    return f"s{subject:0{max(3, len(str(max(subjects - 1, 0))))}d}"


def parse_subject(name: str) -> int:
    """The subject number of ``s007``."""
    return int(str(name).lstrip("s"))


def category_code(category: str) -> int:
    """The stable number of a category in the random keys: its place in :data:`fsfer.emotions.ALL`."""
    return emotions.ALL.index(category)


def domain_code(domain: str) -> int:
    """The stable number of a domain in the random keys."""
    return DOMAINS.index(domain)


def subject_splits(subjects: int, seed: int) -> tuple[str, ...]:
    """The official split of each subject: about 70% train, 10% val, 20% test, shuffled by ``seed``.

    With 3 or more subjects every split has at least one; with 2, one train and one
    test; with 1, train.
    """
    if subjects >= 3:
        n_test = max(1, round(SPLIT_SHARES[2] * subjects))
        n_val = max(1, round(SPLIT_SHARES[1] * subjects))
    else:
        n_test, n_val = subjects - 1, 0
    order = stream(seed, SPLIT, subjects).permutation(subjects)
    splits = ["train"] * subjects
    for rank, subject in enumerate(order):
        if rank < n_test:
            splits[int(subject)] = "test"
        elif rank < n_test + n_val:
            splits[int(subject)] = "val"
    return tuple(splits)


def image_aus(seed: int, domain: str, category: str, subject: int, index: int) -> tuple[dict[int, float], str]:
    """AU intensities and side of one image, from its own expression stream."""
    rng = stream(seed, EXPRESSION, subject, category_code(category), index, domain_code(domain))
    return sample_aus(category, rng, identity(seed, subject).expressiveness)


def synth_images(options: SynthOptions) -> Iterator[SynthImage]:
    """Every image of ``options``, in the order domain, category, subject, index."""
    splits = subject_splits(options.subjects, options.seed)
    for domain in options.domains:
        for category in options.categories:
            for subject in range(options.subjects):
                for index in range(options.per_subject):
                    aus, side = image_aus(options.seed, domain, category, subject, index)
                    yield SynthImage(options.seed, domain, category, subject, index, aus, side, splits[subject])


def image_name(image: SynthImage, subjects: int, per_subject: int) -> str:
    """``s007_02``: the image's name within its domain and category."""
    width = max(2, len(str(max(per_subject - 1, 0))))
    return f"{subject_name(image.subject, subjects)}_{image.index:0{width}d}"
