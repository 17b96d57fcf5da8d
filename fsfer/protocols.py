"""Protocols: which classes and which data feed training (base), validation (val) and testing (novel).

A protocol is a TOML file in ``episodes/`` (``--protocol NAME`` finds
``episodes/NAME.toml``; ``--protocol PATH.toml`` reads any file) or is built on the
command line from class lists. Example (the CRN split of Zhu et al., 2022)::

    name = "crn-rafdb"
    data = ["rafdb"]                 # formats that must be given (--data rafdb:ROOT)
    val_fraction = 0.15              # share of base subjects (or images) carved for validation
    [base]
    classes = ["happiness", "neutral", "sadness", "surprise"]
    splits = ["train", "test"]
    [val]
    carve = true                     # validation carved from the base rows
    [novel]
    classes = ["anger", "disgust", "fear"]
    [setting]                        # the literature's episode shape: defaults of episode-train
    n_way = 4
    k_shot = 4
    test_way = 3
    test_shot = 3

A part may also name ``sources`` (formats), ``splits`` (official splits) and
``where`` (column = value filters, e.g. ``{ domain = "wild" }``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fsfer.emotions import normalise
from fsfer.errors import ConfigError

#: Where the shipped protocol files live: the repository's ``episodes/`` folder, which
#: ``fsfer/protocol_files`` links to (a wheel holds a copy there; see ``_shipped_dir``).
PROTOCOL_DIR = Path(__file__).resolve().parent / "protocol_files"
#: A project's own protocols, relative to the working directory; they come first.
LOCAL_DIR = Path("episodes")
PARTS: tuple[str, ...] = ("base", "val", "novel")
_TOP_KEYS = {"name", "description", "data", "data_any", "default_data", "val_fraction", "seed", "citation", "setting", *PARTS}
#: Keys of a protocol's ``[setting]`` table (episode shapes; test_way/test_shot 0 = as in training).
SETTING_KEYS: tuple[str, ...] = ("n_way", "k_shot", "q_query", "test_way", "test_shot", "test_query")
_PART_KEYS = {"classes", "sources", "splits", "where", "carve"}


@dataclass(frozen=True)
class Part:
    """One part of a protocol: its classes and the rows that feed it.

    Empty ``sources``/``splits`` mean "all"; ``carve`` (val only) takes the
    validation rows out of the base rows instead of selecting its own.
    """

    classes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    carve: bool = False


@dataclass(frozen=True)
class Protocol:
    """A class-split protocol (see the module docstring for the file format)."""

    name: str
    base: Part
    val: Part
    novel: Part
    data: tuple[str, ...] = ()
    data_any: tuple[str, ...] = ()
    default_data: tuple[str, ...] = ()
    val_fraction: float = 0.15
    seed: int = 0
    description: str = ""
    path: str = ""
    #: the literature's episode shape, ``(key, value)`` pairs of :data:`SETTING_KEYS`
    setting: tuple[tuple[str, int], ...] = ()

    def settings(self) -> dict[str, int]:
        """The ``[setting]`` table as a dict (``n_way``, ``k_shot``, ... ``test_query``)."""
        return dict(self.setting)

    def part(self, name: str) -> Part:
        if name not in PARTS:
            raise ConfigError(f"unknown protocol split {name!r}; use one of {', '.join(PARTS)}")
        return getattr(self, name)

    def classes(self, part: str) -> list[str]:
        """Class names of a part (a carved val part has the base classes)."""
        p = self.part(part)
        return list(self.base.classes if p.carve and not p.classes else p.classes)

    def check_data(self, formats: Sequence[str]) -> None:
        """ConfigError naming the data spec a protocol needs when it is not given."""
        given = set(formats)
        for fmt in self.data:
            if fmt not in given:
                raise ConfigError(f"protocol {self.name} needs {fmt} data: pass --data {fmt}:ROOT")
        if self.data_any and not given & set(self.data_any):
            raise ConfigError(
                f"protocol {self.name} needs at least one of {', '.join(self.data_any)}: pass --data FORMAT:ROOT"
            )

    def rows(self, records: pd.DataFrame, part: str) -> np.ndarray:
        """Row indices of ``records`` that feed ``part`` (base minus carved val; val carved by subject when known)."""
        p = self.part(part)
        if p.carve:
            return self._carve(records)[1]
        rows = _select(records, p, self.classes(part))
        if part == "base" and self.val.carve:
            rows = self._carve(records)[0]
        return rows

    def _carve(self, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(base rows, val rows): a seeded ``val_fraction`` of the base subjects, or of each class's images."""
        rows = _select(records, self.base, list(self.base.classes))
        rng = np.random.default_rng([self.seed, 7919])
        subjects = records["subject"].to_numpy()[rows]
        known = pd.notna(subjects)
        if known.all() and len(set(subjects)) >= 2:
            names = np.array(sorted(set(subjects)))
            n_val = max(1, int(round(self.val_fraction * len(names))))
            chosen = set(names[rng.permutation(len(names))[:n_val]].tolist())
            is_val = np.array([s in chosen for s in subjects], dtype=bool)
        else:
            is_val = np.zeros(len(rows), dtype=bool)
            labels = records["label"].to_numpy()[rows]
            for name in sorted(set(labels)):
                where = np.flatnonzero(labels == name)
                n_val = int(round(self.val_fraction * len(where)))
                is_val[where[rng.permutation(len(where))[:n_val]]] = True
        return rows[~is_val], rows[is_val]

    def check_classes(self, records: pd.DataFrame, spec: str = "the data") -> None:
        """ConfigError naming a protocol class that the data lacks."""
        present = set(records["label"])
        for part in PARTS:
            for name in self.classes(part):
                if name not in present:
                    raise ConfigError(
                        f"protocol {self.name}: {part} class {name!r} is not in {spec} "
                        f"(it has: {', '.join(sorted(present))})"
                    )


def _select(records: pd.DataFrame, part: Part, classes: Sequence[str]) -> np.ndarray:
    mask = records["label"].isin(list(classes)).to_numpy()
    if part.sources:
        mask = mask & records["source"].isin(list(part.sources)).to_numpy()
    if part.splits:
        mask = mask & records["split"].isin(list(part.splits)).to_numpy()
    for column, value in part.where:
        if column not in records.columns:
            raise ConfigError(f"protocol filter on {column!r}: the data has no such column")
        mask = mask & (records[column].astype(str) == str(value)).to_numpy()
    return np.flatnonzero(mask)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _part(table: Any, where: str) -> Part:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - _PART_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_PART_KEYS))})")
    filt = table.get("where", {})
    if not isinstance(filt, dict):
        raise ConfigError(f"{where}.where must be a table of column = value")
    carve = table.get("carve", False)
    if not isinstance(carve, bool):
        raise ConfigError(f"{where}.carve must be true or false")
    return Part(
        classes=tuple(normalise(c) for c in _strings(table.get("classes", []), f"{where}.classes")),
        sources=_strings(table.get("sources", []), f"{where}.sources"),
        splits=_strings(table.get("splits", []), f"{where}.splits"),
        where=tuple(sorted((str(k), str(v)) for k, v in filt.items())),
        carve=carve,
    )


def protocol_from_dict(raw: dict[str, Any], origin: str) -> Protocol:
    """A Protocol from parsed TOML; ``origin`` (a file name) appears in every error."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{origin}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    for part in ("base", "novel"):
        if part not in raw:
            raise ConfigError(f"{origin}: missing [{part}] table")
    parts = {p: _part(raw.get(p, {"carve": True}), f"{origin}: [{p}]") for p in PARTS}
    for part in ("base", "novel"):
        if not parts[part].classes:
            raise ConfigError(f"{origin}: [{part}] needs a non-empty classes list")
    if not parts["val"].carve and not parts["val"].classes:
        raise ConfigError(f"{origin}: [val] needs classes, or carve = true to carve it from the base data")
    overlap = set(parts["base"].classes) & set(parts["novel"].classes)
    if overlap:
        raise ConfigError(f"{origin}: class(es) {sorted(overlap)} are both base and novel; a class split must be disjoint")
    fraction = raw.get("val_fraction", 0.15)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigError(f"{origin}: val_fraction must be a number between 0 and 1")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int):
        raise ConfigError(f"{origin}: seed must be an integer")
    setting = raw.get("setting", {})
    if not isinstance(setting, dict):
        raise ConfigError(f"{origin}: [setting] must be a table of {', '.join(SETTING_KEYS)}")
    for key, value in setting.items():
        if key not in SETTING_KEYS:
            raise ConfigError(f"{origin}: [setting] has unknown key {key!r} (known: {', '.join(SETTING_KEYS)})")
        low = 0 if key in ("test_way", "test_shot") else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{origin}: [setting] {key} must be an integer of at least {low}; got {value!r}")
    return Protocol(
        name=str(raw.get("name", Path(origin).stem)),
        base=parts["base"],
        val=parts["val"],
        novel=parts["novel"],
        data=_strings(raw.get("data", []), f"{origin}: data"),
        data_any=_strings(raw.get("data_any", []), f"{origin}: data_any"),
        default_data=_strings(raw.get("default_data", []), f"{origin}: default_data"),
        val_fraction=float(fraction),
        seed=seed,
        description=str(raw.get("description", "")),
        path=origin,
        setting=tuple((k, setting[k]) for k in SETTING_KEYS if k in setting),
    )


def _shipped_dir() -> Path:
    """The shipped protocols: ``fsfer/protocol_files``, or the repository's ``episodes/``
    beside the package when that link is not a folder (Git on Windows without symlink
    support checks a link out as a small text file)."""
    return PROTOCOL_DIR if PROTOCOL_DIR.is_dir() else PROTOCOL_DIR.parent.parent / "episodes"


def _protocol_dirs() -> list[Path]:
    """``./episodes`` (a project's own protocols), then the shipped ones."""
    dirs = [LOCAL_DIR, _shipped_dir()]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d.resolve() not in {e.resolve() for e in dirs[:i]}]


def available_protocols() -> list[str]:
    """Names of the protocols in ``./episodes/`` and shipped with fsfer."""
    return sorted({p.stem for d in _protocol_dirs() for p in d.glob("*.toml")})


def load_protocol(name_or_path: str | Path) -> Protocol:
    """``episodes/NAME.toml`` for a bare name (the working directory's ``episodes/`` first,
    then the shipped protocols), else the TOML file at the path."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
    else:
        found = [d / f"{text}.toml" for d in _protocol_dirs() if (d / f"{text}.toml").is_file()]
        path = found[0] if found else LOCAL_DIR / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(available_protocols())
        raise ConfigError(f"{path}: no such protocol file; use a shipped protocol ({known}) or a PATH.toml")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    return protocol_from_dict(raw, str(path))


def protocol_from_classes(
    base: Sequence[str], novel: Sequence[str], val: Sequence[str] | None = None, *, val_fraction: float = 0.15
) -> Protocol:
    """A protocol built from class lists (``--base-classes``, ``--val-classes``, ``--novel-classes``).

    All given data and all official splits feed every part; without ``val`` the
    validation set is carved from the base data.
    """
    raw: dict[str, Any] = {
        "name": "custom",
        "default_data": ["synth"],  # as everywhere: SynthFER unless --data says otherwise
        "val_fraction": val_fraction,
        "base": {"classes": list(base)},
        "novel": {"classes": list(novel)},
        "val": {"classes": list(val)} if val else {"carve": True},
    }
    return protocol_from_dict(raw, "command-line classes")
