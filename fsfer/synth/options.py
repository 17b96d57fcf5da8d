"""The options of a SynthFER dataset, checked once for the reader, the writer and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from fsfer.errors import ConfigError, FsferError
from fsfer.synth.aus import CLASS_SETS, categories
from fsfer.synth.seeding import DOMAINS

MIN_SIZE, MAX_SIZE = 32, 224
#: Values of the domain choice and the domains each names ("" is the plain ``synth`` spec).
DOMAIN_CHOICES: dict[str, tuple[str, ...]] = {"lab": ("lab",), "wild": ("wild",), "both": DOMAINS, "": DOMAINS}


@dataclass(frozen=True)
class SynthOptions:
    """What to render: domains, how many subjects and images per subject and category, size, seed, classes."""

    domains: tuple[str, ...] = DOMAINS
    subjects: int = 40
    per_subject: int = 3
    size: int = 64
    seed: int = 0
    classes: str = "all"
    contempt: bool = False

    @property
    def categories(self) -> tuple[str, ...]:
        """The category names rendered, in canonical order."""
        return categories(self.classes, self.contempt)

    @property
    def n_images(self) -> int:
        """How many images these options describe."""
        return len(self.domains) * len(self.categories) * self.subjects * self.per_subject


def check_options(
    domain: str = "both",
    *,
    subjects: int = 40,
    per_subject: int = 3,
    size: int = 64,
    seed: int = 0,
    classes: str = "all",
    contempt: bool = False,
    error: type[FsferError] = ConfigError,
    prefix: str = "",
) -> SynthOptions:
    """Checked :class:`SynthOptions`; a bad value raises ``error`` naming it and the fix.

    ``domain`` is ``lab``, ``wild``, ``both`` or ``""`` (both). ``prefix`` starts the
    message (for example the data spec the options came from).
    """
    where = f"{prefix}: " if prefix else ""
    if domain not in DOMAIN_CHOICES:
        raise error(f"{where}unknown synth domain {domain!r}; use lab, wild or both (synth:lab, synth:wild, synth)")
    for name, value in (("subjects", subjects), ("per_subject", per_subject)):
        if int(value) < 1:
            raise error(f"{where}{name}={value} must be a positive count (1 or more)")
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise error(f"{where}size={size} is out of range; use a square size from {MIN_SIZE} to {MAX_SIZE} pixels")
    if int(seed) < 0:
        raise error(f"{where}seed={seed} must be 0 or a positive integer")
    if classes not in CLASS_SETS:
        raise error(f"{where}unknown classes value {classes!r}; use one of {', '.join(CLASS_SETS)}")
    return SynthOptions(
        domains=DOMAIN_CHOICES[domain],
        subjects=int(subjects),
        per_subject=int(per_subject),
        size=int(size),
        seed=int(seed),
        classes=classes,
        contempt=bool(contempt),
    )
