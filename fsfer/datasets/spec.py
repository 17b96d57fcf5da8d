"""Data specs: the one way to name a dataset in the CLI and the Python API.

``FORMAT[:ROOT][?key=value,key=value]``, for example ``rafdb:/data/RAF-DB/basic``,
``fer2013:/data/fer2013.csv``, ``ferplus:/data/fer2013new.csv?mode=probability``,
``synth:wild?subjects=20,size=48``. Option values are converted to the type of the
reader's default for that option.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fsfer.errors import SpecError


@dataclass(frozen=True)
class DataSpec:
    """A parsed data spec; ``text`` is what the user wrote."""

    format: str
    root: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text or self.format + (f":{self.root}" if self.root else "")


def parse_spec(text: str | DataSpec) -> DataSpec:
    """Split ``FORMAT[:ROOT][?k=v,...]`` into its parts (no check of the format)."""
    if isinstance(text, DataSpec):
        return text
    raw = text.strip()
    if not raw:
        raise SpecError("empty data spec: write FORMAT:ROOT, for example rafdb:/data/RAF-DB/basic or synth")
    body, _, query = raw.partition("?")
    fmt, _, root = body.partition(":")
    options: dict[str, str] = {}
    for part in filter(None, query.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise SpecError(f"data spec {raw!r}: option {part!r} is not key=value (write ?key=value,key=value)")
        options[key.strip()] = value.strip()
    return DataSpec(format=fmt.strip().lower(), root=root.strip(), options=options, text=raw)


def _coerce(value: str, default: Any, key: str, spec: DataSpec) -> Any:
    if isinstance(default, bool):
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise SpecError(f"data spec {spec}: option {key}={value!r} must be true or false")
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(value)
            except ValueError:
                raise SpecError(f"data spec {spec}: option {key}={value!r} must be a {kind.__name__}") from None
    return value


def reader_options(spec: DataSpec, read: Any) -> dict[str, Any]:
    """The spec's options converted for ``read``'s keyword arguments; unknown keys are an error."""
    params = {
        name: p.default
        for name, p in inspect.signature(read).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    out: dict[str, Any] = {}
    for key, value in spec.options.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise SpecError(f"data spec {spec}: unknown option {key!r} for format {spec.format} (known: {known})")
        out[key] = _coerce(value, params[key], key, spec)
    return out


def read_records(spec: str | DataSpec) -> pd.DataFrame:
    """The Records table of a data spec, read by its format's reader."""
    from fsfer.datasets.registry import get_format

    parsed = parse_spec(spec)
    fmt = get_format(parsed.format)
    records = fmt.read(parsed.root, **reader_options(parsed, fmt.read))
    records.attrs["spec"] = str(parsed)
    return records


def read_many(specs: list[str | DataSpec]) -> pd.DataFrame:
    """The Records of several data specs as one table (``attrs``: formats joined by ``+``, roots by ``;``)."""
    parsed = [parse_spec(t) for t in specs]
    tables = [read_records(p) for p in parsed]
    records = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    records.attrs = {"format": "+".join(p.format for p in parsed), "root": ";".join(p.root for p in parsed)}
    return records
