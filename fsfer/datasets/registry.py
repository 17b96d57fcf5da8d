"""The registry of on-disk formats: format name -> :class:`~fsfer.datasets.base.Format`."""

from __future__ import annotations

from fsfer.datasets.base import Format
from fsfer.errors import SpecError


def all_formats() -> dict[str, Format]:
    """Every supported format by name, in the order ``fsfer datasets formats`` lists them."""
    from fsfer.datasets import affectnet, ckplus, expw, fer2013, ferplus, folder, jaffe, rafdb, sfew
    from fsfer.synth import dataset as synth

    modules = (rafdb, fer2013, ferplus, sfew, affectnet, ckplus, jaffe, expw, folder, synth)
    return {fmt.name: fmt for module in modules for fmt in module.FORMATS}


def get_format(name: str) -> Format:
    """The format called ``name``; an unknown name lists the known ones."""
    formats = all_formats()
    if name not in formats:
        raise SpecError(f"unknown dataset format {name!r}; known formats: {', '.join(formats)}")
    return formats[name]
