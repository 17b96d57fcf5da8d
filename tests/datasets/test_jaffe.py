"""JAFFE reader: labels and subjects from the file names."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import jaffe
from fsfer.errors import DataError

read = jaffe.FORMATS[0].read


def test_label_map() -> None:
    assert jaffe.JAFFE_LABELS == {
        "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral", "SA": "sadness", "SU": "surprise",
    }  # fmt: skip


def test_listing(make_jaffe) -> None:
    root = make_jaffe()
    df = read(str(root))
    assert len(df) == 7  # README is not an image
    assert df["item"].tolist() == [
        "KA.AN1.39.tiff", "KA.HA2.30.tiff", "KA.NE1.26.tiff", "KL.DI1.170.tiff",
        "KL.FE3.176.tiff", "YM.SA1.55.tiff", "YM.SU2.59.tiff",
    ]  # fmt: skip
    assert df["label"].tolist() == ["anger", "happiness", "neutral", "disgust", "fear", "sadness", "surprise"]
    assert df["subject"].tolist() == ["KA", "KA", "KA", "KL", "KL", "YM", "YM"]
    assert set(df["split"]) == {"train"} and df["box"].isna().all()
    assert df["path"].iloc[0] == os.path.join(os.path.abspath(root), "KA.AN1.39.tiff")


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder; expected the JAFFE folder"):
        read(str(tmp_path / "jaffe"))


def test_no_images(tmp_path) -> None:
    (tmp_path / "README").write_text("x")
    with pytest.raises(DataError, match="holds no images; expected the JAFFE images such as KA.AN1.39.tiff"):
        read(str(tmp_path))


def test_misnamed_image(make_jaffe) -> None:
    root = make_jaffe(["KA.AN1.39.tiff", "KA_smile.tiff"])
    with pytest.raises(DataError, match=r"KA_smile\.tiff: not a JAFFE image name; expected SUBJECT\.CODE<n>\.<id>\.tiff"):
        read(str(root))


def test_unknown_expression_code(make_jaffe) -> None:
    root = make_jaffe(["KA.XX1.39.tiff"])
    with pytest.raises(DataError, match="KA.XX1.39.tiff: not a JAFFE image name.*CODE one of AN, DI, FE, HA, NE, SA, SU"):
        read(str(root))
