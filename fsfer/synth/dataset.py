"""The ``synth`` data spec: SynthFER as a dataset format, with nothing on disk.

``synth`` (both domains), ``synth:lab`` or ``synth:wild``, with options
``?subjects=40,per_subject=3,size=64,seed=0,classes=all,contempt=false``. The
reader lists one record per image without drawing it; :func:`decode` renders one
record. Every record carries its subject (``s007``) and split (by subject), and one
column per AU (``au1`` ... ``au26``, 0 when off): the table is the AU ground truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fsfer.datasets.base import Format, make_records
from fsfer.errors import SpecError
from fsfer.synth.aus import AU_COLUMNS, AUS
from fsfer.synth.catalog import SynthImage, image_name, parse_subject, subject_name, synth_images
from fsfer.synth.options import check_options
from fsfer.synth.render import render_image

#: Extra Records columns of ``synth`` beside the Records contract and the AU columns.
EXTRA_COLUMNS: tuple[str, ...] = ("domain", "index", "seed", "size", "side")

LAYOUT = (
    "nothing on disk: faces rendered from facial action units (FACS) per Du et al. 2014; "
    "synth = both domains, synth:lab (frontal, even light) or synth:wild (pose, light, clutter, blur, occlusion)"
)


def read(
    root: str,
    *,
    subjects: int = 40,
    per_subject: int = 3,
    size: int = 64,
    seed: int = 0,
    classes: str = "all",
    contempt: bool = False,
) -> pd.DataFrame:
    """Records of a SynthFER dataset; ``root`` is ``""`` (both domains), ``lab`` or ``wild``.

    No image is rendered here. Splits are by subject (about 70/10/20 train/val/test).
    """
    domain = (root or "").strip().lower()
    if domain not in ("", "lab", "wild"):
        raise SpecError(
            f"synth:{root}: unknown synth domain {root!r}; write synth (both domains), synth:lab or synth:wild"
        )
    spec = "synth" + (f":{domain}" if domain else "")
    options = check_options(
        domain or "both",
        subjects=subjects,
        per_subject=per_subject,
        size=size,
        seed=seed,
        classes=classes,
        contempt=contempt,
        error=SpecError,
        prefix=f"data spec {spec}",
    )
    rows = []
    for image in synth_images(options):
        name = image_name(image, options.subjects, options.per_subject)
        row: dict[str, Any] = {
            "item": f"{image.domain}/{image.category}/{name}",
            "path": None,
            "label": image.category,
            "split": image.split,
            "subject": subject_name(image.subject, options.subjects),
            "domain": image.domain,
            "index": image.index,
            "seed": image.seed,
            "size": options.size,
            "side": image.side,
        }
        row.update({col: image.aus[au] for col, au in zip(AU_COLUMNS, AUS)})
        rows.append(row)
    return make_records(rows, source="synth", root=domain)


def _field(row: Any, key: str) -> Any:
    if isinstance(row, dict):
        return row[key]
    try:
        return row[key]
    except (KeyError, TypeError, IndexError):
        return getattr(row, key)


def image_of(row: Any) -> SynthImage:
    """The :class:`SynthImage` a Records row (a Series, dict or named tuple) describes.

    The AU intensities are taken from the row, so an edited row renders as edited.
    """
    aus = {au: float(_field(row, col)) for col, au in zip(AU_COLUMNS, AUS)}
    return SynthImage(
        seed=int(_field(row, "seed")),
        domain=str(_field(row, "domain")),
        category=str(_field(row, "label")),
        subject=parse_subject(_field(row, "subject")),
        index=int(_field(row, "index")),
        aus=aus,
        side=str(_field(row, "side")),
        split=str(_field(row, "split")),
    )


def decode(row: Any, size: int | None = None) -> np.ndarray:
    """``uint8 [size, size, 3]`` pixels of one ``synth`` record, rendered now.

    ``size`` defaults to the record's ``size`` column (the ``size`` option of the spec).
    """
    return render_image(image_of(row), int(size if size is not None else _field(row, "size")))


FORMATS = (Format(name="synth", layout=LAYOUT, read=read, decode=decode),)
