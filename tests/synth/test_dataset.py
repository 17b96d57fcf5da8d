"""The ``synth`` data spec: listing, AU ground truth, splits by subject, decode."""

from __future__ import annotations

import numpy as np
import pytest

from fsfer import emotions
from fsfer.datasets.base import COLUMNS
from fsfer.datasets.registry import get_format
from fsfer.datasets.spec import read_records
from fsfer.errors import SpecError
from fsfer.synth.aus import AU_COLUMNS, CATEGORIES
from fsfer.synth.dataset import decode, read
from fsfer.synth.catalog import SynthImage
from fsfer.synth.render import render_image


def test_spec_lists_records_without_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    import fsfer.synth.dataset as ds

    monkeypatch.setattr(ds, "render_image", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rendered")))
    df = read_records("synth:wild?subjects=4,per_subject=2,size=48,classes=basic")
    assert len(df) == 4 * 2 * 7
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    for col in ("domain", "index", "seed", *AU_COLUMNS):
        assert col in df.columns
    row = df.iloc[5]
    assert row["item"] == f"wild/{row['label']}/{row['subject']}_{row['index']:02d}"
    assert row["path"] is None and row["source"] == "synth" and row["subject"].startswith("s")
    assert set(df["domain"]) == {"wild"} and set(df["size"]) == {48}
    assert df["item"].is_unique
    assert df.attrs["format"] == "synth"


def test_plain_synth_is_both_domains_with_the_same_subjects() -> None:
    df = read("", subjects=3, per_subject=1, classes="basic", contempt=True)
    assert set(df["domain"]) == {"lab", "wild"}
    assert set(df["label"]) == set(emotions.BASIC) | {"contempt"}
    lab = df[df["domain"] == "lab"].set_index(["label", "subject"])["split"]
    wild = df[df["domain"] == "wild"].set_index(["label", "subject"])["split"]
    assert lab.equals(wild)  # a subject's split is the same in both domains


def test_au_columns_are_ground_truth() -> None:
    df = read("lab", subjects=6, per_subject=2)
    assert len(df) == 6 * 2 * 22
    for name, cat in CATEGORIES.items():
        part = df[df["label"] == name]
        if name == "contempt":
            assert part.empty
            continue
        for au in cat.core:
            assert (part[f"au{au}"] > 0.3).all(), (name, au)
        allowed = {f"au{au}" for au in cat.aus}
        others = [c for c in AU_COLUMNS if c not in allowed]
        if name != "neutral":
            assert (part[others] == 0).all().all(), name
    neutral = df[df["label"] == "neutral"][list(AU_COLUMNS)]
    assert neutral.to_numpy().max() <= 0.12


def test_splits_are_by_subject_and_about_70_10_20() -> None:
    df = read("lab", subjects=40, per_subject=1, classes="basic")
    per_subject = df.groupby("subject")["split"].nunique()
    assert (per_subject == 1).all()
    counts = df.drop_duplicates("subject")["split"].value_counts().to_dict()
    assert counts == {"train": 28, "val": 4, "test": 8}
    other = read("lab", subjects=40, per_subject=1, classes="basic", seed=1)
    assert not df["split"].equals(other["split"])  # the split follows the seed
    small = read("lab", subjects=3, per_subject=1, classes="basic")
    assert set(small["split"]) == {"train", "val", "test"}


def test_decode_renders_the_record_at_the_requested_size() -> None:
    df = read("wild", subjects=2, per_subject=1, classes="basic", size=40)
    row = df.iloc[3]
    a = decode(row)
    assert a.shape == (40, 40, 3) and a.dtype == np.uint8
    b = decode(row.to_dict(), 56)
    assert b.shape == (56, 56, 3)
    assert np.array_equal(decode(next(df.itertuples()), 40), decode(df.iloc[0]))
    aus = {int(c[2:]): float(row[c]) for c in AU_COLUMNS}
    image = SynthImage(0, "wild", row["label"], int(row["subject"][1:]), int(row["index"]), aus, row["side"])
    assert np.array_equal(a, render_image(image, 40))
    assert get_format("synth").decode is decode


@pytest.mark.parametrize(
    "spec, words",
    [
        ("synth:indoor", ["indoor", "synth:lab", "synth:wild"]),
        ("synth:lab?size=7", ["size=7", "32", "224"]),
        ("synth?classes=odd", ["odd", "basic", "compound", "all"]),
        ("synth?subjects=-2", ["subjects=-2"]),
        ("synth?contempt=maybe", ["contempt"]),
        ("synth?colour=red", ["colour"]),
    ],
)
def test_bad_specs_name_the_problem(spec: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as err:
        read_records(spec)
    for word in words:
        assert word in str(err.value)
