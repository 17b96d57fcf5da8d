"""The data of a protocol: its data specs read, checked, merged, and split into base / val / novel rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from fsfer.datasets.spec import parse_spec, read_many
from fsfer.errors import ConfigError
from fsfer.protocols import PARTS, Protocol
from fsfer.store import ImageStore, index_dataset, load_dataset


@dataclass
class ProtocolData:
    """A store holding every image a protocol uses, and the rows of each part.

    ``rows[part]`` are row indices into ``store`` for ``base``, ``val`` and ``novel``;
    ``classes[part]`` the class names of that part.
    """

    protocol: Protocol
    store: ImageStore
    rows: dict[str, np.ndarray]
    specs: list[str]

    def classes(self, part: str) -> list[str]:
        return self.protocol.classes(part)

    def decoded(self, image_size: int = 64, *, cache_dir: str | None = None, progress: bool = False,
                strict: bool = False) -> "ProtocolData":
        """The same data with its images decoded (from an index made with ``decode=False``).

        Rows are found again: an unreadable image that is skipped shifts them.
        """
        store = load_dataset(self.store.records, image_size, cache_dir=cache_dir, progress=progress, strict=strict)
        return _split(self.protocol, store, self.specs)


def protocol_records(protocol: Protocol, specs: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """The merged Records of the data specs a protocol runs on (its default data when none are given)."""
    texts = list(specs) if specs else list(protocol.default_data)
    if not texts:
        need = protocol.data or protocol.data_any
        raise ConfigError(f"protocol {protocol.name} needs data: pass --data {need[0] if need else 'FORMAT'}:ROOT")
    parsed = [parse_spec(t) for t in texts]
    protocol.check_data([p.format for p in parsed])
    records = read_many(parsed)
    protocol.check_classes(records, " + ".join(str(p) for p in parsed))
    return records, [str(p) for p in parsed]


def check_subjects(records: pd.DataFrame, specs: Sequence[str]) -> None:
    """ConfigError naming the data spec whose images lack a subject (subject-disjoint episodes need them all)."""
    missing = records["subject"].isna() if "subject" in records.columns else pd.Series(True, index=records.index)
    if not missing.any():
        return
    sources = set(records.loc[missing, "source"])
    named = [s for s in specs if parse_spec(s).format in sources] or list(specs)
    raise ConfigError(
        f"--disjoint-subjects: {', '.join(named)} gives no subject for {int(missing.sum())} of its images; "
        "give the data subjects (a manifest.csv, or ?subject=REGEX for folder data) or drop --disjoint-subjects"
    )


def load_protocol_data(
    protocol: Protocol,
    specs: Sequence[str] | None = None,
    image_size: int = 64,
    *,
    decode: bool = True,
    cache_dir: str | None = None,
    progress: bool = False,
    strict: bool = False,
    require_subjects: bool = False,
) -> ProtocolData:
    """Read, check and (unless ``decode=False``) decode a protocol's data; split it into its parts.

    ``require_subjects`` (subject-disjoint episodes asked for explicitly) makes data
    whose images lack a subject a ConfigError naming its spec, before anything is decoded.
    """
    records, texts = protocol_records(protocol, specs)
    used = {c for part in PARTS for c in protocol.classes(part)}
    attrs = dict(records.attrs)
    records = records[records["label"].isin(used)].reset_index(drop=True)
    records.attrs = attrs
    if require_subjects:
        check_subjects(records, texts)
    if decode:
        store = load_dataset(records, image_size, cache_dir=cache_dir, progress=progress, strict=strict)
    else:
        store = index_dataset(records)
    return _split(protocol, store, texts)


def _split(protocol: Protocol, store: ImageStore, texts: list[str]) -> ProtocolData:
    """A store's rows of each part of ``protocol`` (a part that selects nothing is a ConfigError)."""
    rows = {part: protocol.rows(store.records, part) for part in PARTS}
    for part, r in rows.items():
        if len(r) == 0:
            raise ConfigError(f"protocol {protocol.name}: the {part} split selects no image from {', '.join(texts)}")
    return ProtocolData(protocol=protocol, store=store, rows=rows, specs=texts)
