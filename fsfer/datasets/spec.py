r"""Data specs: the one way to name a dataset in the CLI and the Python API.

``FORMAT[:ROOT][?key=value,key=value]``, for example ``rafdb:/data/RAF-DB/basic``,
``fer2013:/data/fer2013.csv``, ``ferplus:/data/fer2013new.csv?mode=probability``,
``synth:wild?subjects=20,size=48``. Option values are converted to the type of the
reader's default for that option (a text default keeps the text as written).

Options are split on commas, but a part that holds no ``=`` continues the value
before it, comma put back, so a regular expression may hold commas:
``folder:/d?subject=^(S\d{1,3})_,split=x`` gives ``subject`` = ``^(S\d{1,3})_``.
A comma at the very end is ignored. A value cannot hold both a comma and an ``=``
(the part after the comma would read as a new option).
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
    return DataSpec(format=fmt.strip().lower(), root=root.strip(), options=_options(query, raw), text=raw)


def _options(query: str, raw: str) -> dict[str, str]:
    """``{key: value}`` of ``k=v,k=v``; a part without ``=`` continues the previous value (see the module doc)."""
    parts = query.split(",")
    if parts[-1] == "":
        parts.pop()  # a trailing comma says nothing
    options: dict[str, str] = {}
    key = ""
    for part in parts:
        if "=" not in part and key:
            options[key] += "," + part
            continue
        if not part and not key:
            continue  # an empty part before the first option
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise SpecError(f"data spec {raw!r}: option {part!r} is not key=value (write ?key=value,key=value)")
        key = name.strip()
        options[key] = value
    return {k: v.strip() for k, v in options.items()}


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
