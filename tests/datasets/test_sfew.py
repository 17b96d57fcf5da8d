"""SFEW 2.0 reader on a tiny copy of Train/<Class>, Val/<Class>, Test/."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import sfew
from fsfer.errors import DataError

read = sfew.FORMATS[0].read


def test_label_map() -> None:
    assert sfew.SFEW_LABELS == {
        "Angry": "anger", "Disgust": "disgust", "Fear": "fear", "Happy": "happiness",
        "Neutral": "neutral", "Sad": "sadness", "Surprise": "surprise",
    }  # fmt: skip
    assert sfew.FORMATS[0].name == "sfew" and "Train/<Class>" in sfew.FORMATS[0].layout


def test_listing(make_sfew) -> None:
    root = make_sfew()
    df = read(str(root))
    assert len(df) == 14  # 10 train + 4 val; Test is unlabelled and ignored
    assert df["split"].value_counts().to_dict() == {"train": 10, "val": 4}
    train = df[df["split"] == "train"]["label"].value_counts().to_dict()
    assert train == {"happiness": 3, "anger": 2, "disgust": 1, "fear": 1, "neutral": 1, "sadness": 1, "surprise": 1}
    val = df[df["split"] == "val"]["label"].value_counts().to_dict()
    assert val == {"sadness": 2, "anger": 1, "happiness": 1}
    assert df["item"].iloc[0] == "Train/Angry/angry_000.png"
    assert df["path"].iloc[0] == os.path.join(os.path.abspath(root), "Train", "Angry", "angry_000.png")
    assert not df["item"].str.startswith("Test/").any()
    assert df["box"].isna().all() and df["subject"].isna().all()


def test_non_images_and_hidden_files_ignored(make_sfew) -> None:
    root = make_sfew({"Train": {"Happy": 1}})
    (root / "Train" / "Happy" / "Thumbs.db").write_bytes(b"x")
    (root / "Train" / "Happy" / "notes.txt").write_text("x")
    (root / ".cache").mkdir()
    assert read(str(root))["item"].tolist() == ["Train/Happy/happy_000.png"]


def test_lower_case_folders(make_sfew) -> None:
    df = read(str(make_sfew({"train": {"happy": 1}, "val": {"sad": 1}})))
    assert df[["label", "split"]].values.tolist() == [["happiness", "train"], ["sadness", "val"]]


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder; expected the SFEW 2.0 folder"):
        read(str(tmp_path / "SFEW"))


def test_no_split_folders(tmp_path) -> None:
    (tmp_path / "Angry").mkdir()
    with pytest.raises(DataError, match="holds no Train/ or Val/ folder"):
        read(str(tmp_path))


def test_unexpected_class_folder(make_sfew) -> None:
    root = make_sfew({"Train": {"Happy": 1, "Contempt": 1}})
    with pytest.raises(DataError, match=r"Contempt: unexpected class folder; expected the SFEW 2.0 classes Angry, "):
        read(str(root))


def test_no_images(make_sfew) -> None:
    root = make_sfew({"Train": {"Happy": 0}})
    (root / "Train" / "Happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no images in Train/<Class>/ or Val/<Class>/"):
        read(str(root))
