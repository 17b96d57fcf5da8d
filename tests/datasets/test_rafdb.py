"""RAF-DB basic and compound readers on a tiny copy of the official layout."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import rafdb
from fsfer.datasets.base import COLUMNS
from fsfer.errors import DataError, SpecError

read_basic = rafdb.FORMATS[0].read
read_compound = rafdb.FORMATS[1].read


def test_formats_and_label_maps() -> None:
    assert [f.name for f in rafdb.FORMATS] == ["rafdb", "rafdb-compound"]
    assert rafdb.RAFDB_LABELS == {
        1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness", 6: "anger", 7: "neutral",
    }  # fmt: skip
    assert rafdb.RAFDB_COMPOUND_LABELS[1] == "happily_surprised"
    assert rafdb.RAFDB_COMPOUND_LABELS[11] == "disgustedly_surprised"
    assert len(rafdb.RAFDB_COMPOUND_LABELS) == 11
    assert all(f.layout and "list_patition_label.txt" in f.layout for f in rafdb.FORMATS)


def test_basic_aligned(make_rafdb) -> None:
    root = make_rafdb()
    df = read_basic(str(root))
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(df) == 10
    assert df["split"].value_counts().to_dict() == {"train": 8, "test": 2}
    train = df[df["split"] == "train"]
    assert train["label"].value_counts().to_dict() == {
        "happiness": 2, "surprise": 1, "fear": 1, "disgust": 1, "sadness": 1, "anger": 1, "neutral": 1,
    }  # fmt: skip
    first = df.iloc[0]
    assert first["item"] == "Image/aligned/train_00001_aligned.jpg"
    assert first["label"] == "surprise"  # label 1
    assert first["path"] == os.path.join(os.path.abspath(root), "Image", "aligned", "train_00001_aligned.jpg")
    assert os.path.isabs(first["path"]) and os.path.isfile(first["path"])
    assert df.iloc[7]["label"] == "neutral"  # label 7
    assert df.iloc[8][["item", "label", "split"]].tolist() == ["Image/aligned/test_0001_aligned.jpg", "sadness", "test"]
    assert df["box"].isna().all() and df["subject"].isna().all() and df["pixels"].isna().all()
    assert set(df["source"]) == {"rafdb"}
    assert df.attrs["format"] == "rafdb"
    assert df["item"].is_unique


def test_basic_original_images(make_rafdb) -> None:
    df = read_basic(str(make_rafdb()), image="original")
    assert df["item"].tolist()[:2] == ["Image/original/train_00001.jpg", "Image/original/train_00002.jpg"]
    assert df["item"].tolist()[-1] == "Image/original/test_0002.jpg"


def test_compound(make_rafdb) -> None:
    rows = [("train_0001.jpg", 1), ("train_0002.jpg", 11), ("test_0001.jpg", 4)]
    df = read_compound(str(make_rafdb(rows, folder="compound")))
    assert df["label"].tolist() == ["happily_surprised", "disgustedly_surprised", "sadly_angry"]
    assert df["split"].tolist() == ["train", "train", "test"]
    assert set(df["source"]) == {"rafdb-compound"}


def test_blank_lines_and_crlf_are_fine(make_rafdb) -> None:
    root = make_rafdb([("train_00001.jpg", 4)], lines="train_00001.jpg 4\r\n\r\n")
    assert read_basic(str(root))["label"].tolist() == ["happiness"]


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder.*basic/"):
        read_basic(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="no dataset root"):
        read_basic("")


def test_missing_label_file(make_rafdb) -> None:
    root = make_rafdb()
    (root / "EmoLabel" / "list_patition_label.txt").unlink()
    with pytest.raises(DataError, match=r"list_patition_label\.txt: no such file"):
        read_basic(str(root))


def test_malformed_line_names_line_number(make_rafdb) -> None:
    root = make_rafdb([("train_00001.jpg", 4)], lines="train_00001.jpg 4\ntrain_00002.jpg happy\n")
    with pytest.raises(DataError, match=r"list_patition_label\.txt, line 2: expected '<image name> <label>'"):
        read_basic(str(root))


def test_bad_prefix(make_rafdb) -> None:
    root = make_rafdb([("val_00001.jpg", 4)])
    with pytest.raises(DataError, match="line 1: image name 'val_00001.jpg' does not start with train_ or test_"):
        read_basic(str(root))


def test_label_out_of_range(make_rafdb) -> None:
    root = make_rafdb([("train_00001.jpg", 4), ("train_00002.jpg", 8)])
    with pytest.raises(DataError, match=r"line 2: label 8 is outside 1\.\.7"):
        read_basic(str(root))
    root = make_rafdb([("train_00001.jpg", 12)], folder="compound")
    with pytest.raises(DataError, match=r"line 1: label 12 is outside 1\.\.11"):
        read_compound(str(root))


def test_missing_image(make_rafdb) -> None:
    root = make_rafdb()
    (root / "Image" / "aligned" / "train_00003_aligned.jpg").unlink()
    with pytest.raises(DataError, match=r"train_00003_aligned\.jpg: image listed in .*list_patition_label\.txt is missing"):
        read_basic(str(root))
    assert len(read_basic(str(root), image="original")) == 10  # the original images are all there


def test_bad_image_option(make_rafdb) -> None:
    with pytest.raises(SpecError, match="image='cropped' is not one of aligned, original"):
        read_basic(str(make_rafdb()), image="cropped")


def test_read_records_through_the_registry(make_rafdb) -> None:
    from fsfer.datasets import read_records

    root = make_rafdb()
    df = read_records(f"rafdb:{root}?image=original")
    assert len(df) == 10 and df["item"].iloc[0] == "Image/original/train_00001.jpg"
    assert len(read_records(f"rafdb-compound:{make_rafdb([('train_1.jpg', 2)], folder='compound')}")) == 1
