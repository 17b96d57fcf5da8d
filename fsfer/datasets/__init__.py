"""Readers of FER datasets in their official layouts; each returns a Records table."""

from fsfer.datasets.base import COLUMNS, Format, make_records
from fsfer.datasets.registry import all_formats, get_format
from fsfer.datasets.spec import DataSpec, parse_spec, read_records

__all__ = ["COLUMNS", "DataSpec", "Format", "all_formats", "get_format", "make_records", "parse_spec", "read_records"]
