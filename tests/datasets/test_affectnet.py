"""AffectNet reader: label lists, face boxes, AffectNet-7 / AffectNet-8."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import affectnet
from fsfer.errors import DataError, SpecError

read = affectnet.FORMATS[0].read


def test_label_map() -> None:
    assert affectnet.AFFECTNET_LABELS == {
        0: "neutral", 1: "happiness", 2: "sadness", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt",
    }  # fmt: skip
    assert affectnet.AFFECTNET_NON_EXPRESSIONS == {8: "none", 9: "uncertain", 10: "non-face"}


def test_affectnet7(make_affectnet) -> None:
    root = make_affectnet()
    df = read(str(root))
    assert df["item"].tolist() == [
        "Manually_Annotated_Images/1/a0.jpg",
        "Manually_Annotated_Images/1/a1.jpg",
        "Manually_Annotated_Images/1/a2.jpg",
        "Manually_Annotated_Images/3/c0.jpg",
    ]
    assert df["label"].tolist() == ["neutral", "happiness", "anger", "surprise"]
    assert df["split"].tolist() == ["train", "train", "train", "val"]
    assert df["box"].tolist() == [(1, 2, 6, 6), (0, 0, 8, 8), (2, 1, 5, 7), (1, 1, 7, 7)]  # (left, top, right, bottom)
    assert df["path"].iloc[0] == os.path.join(os.path.abspath(root), "Manually_Annotated_Images", "1", "a0.jpg")
    assert df["subject"].isna().all() and set(df["source"]) == {"affectnet"}


def test_affectnet8_keeps_contempt(make_affectnet) -> None:
    df = read(str(make_affectnet()), classes=8)
    assert len(df) == 6
    assert df["label"].value_counts()["contempt"] == 2
    assert df[df["label"] == "contempt"]["split"].tolist() == ["train", "val"]


def test_validation_with_header(make_affectnet) -> None:
    df = read(str(make_affectnet(val_header=True)))
    assert df["split"].value_counts().to_dict() == {"train": 3, "val": 1}


def test_bad_classes_option(make_affectnet) -> None:
    with pytest.raises(SpecError, match="classes=6 must be 7 .* or 8"):
        read(str(make_affectnet()), classes=6)


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder; expected the AffectNet folder"):
        read(str(tmp_path / "AffectNet"))


def test_missing_label_file(make_affectnet) -> None:
    root = make_affectnet()
    (root / "Manually_Annotated_file_lists" / "validation.csv").unlink()
    with pytest.raises(DataError, match=r"validation\.csv: no such file; expected the AffectNet label list"):
        read(str(root))


def test_malformed_line(make_affectnet) -> None:
    root = make_affectnet(extra_train_line="4/d0.jpg,1,2,3\n")
    with pytest.raises(DataError, match=r"training\.csv, line 8: expected 9 fields"):
        read(str(root))


def test_non_integer_box(make_affectnet) -> None:
    root = make_affectnet(train=[("1/a0.jpg", 1, 2, 5, 4, 0)])
    path = root / "Manually_Annotated_file_lists" / "training.csv"
    path.write_text(path.read_text().replace("1/a0.jpg,1,2,", "1/a0.jpg,left,2,"))
    with pytest.raises(DataError, match="line 2: face_x, face_y, face_width, face_height and expression must be integers"):
        read(str(root))


def test_label_out_of_range(make_affectnet) -> None:
    root = make_affectnet(train=[("1/a0.jpg", 1, 2, 5, 4, 0), ("1/a1.jpg", 1, 2, 5, 4, 11)])
    with pytest.raises(DataError, match=r"training\.csv, line 3: expression 11 is outside 0\.\.10"):
        read(str(root))


def test_empty_box(make_affectnet) -> None:
    root = make_affectnet(train=[("1/a0.jpg", 1, 2, 0, 4, 0)])
    with pytest.raises(DataError, match="line 2: face box 0x4 is empty"):
        read(str(root))


def test_missing_image(make_affectnet) -> None:
    root = make_affectnet()
    (root / "Manually_Annotated_Images" / "3" / "c0.jpg").unlink()
    with pytest.raises(DataError, match=r"c0\.jpg: image listed in .*validation\.csv is missing"):
        read(str(root))


def test_missing_image_of_skipped_row_is_fine(make_affectnet) -> None:
    root = make_affectnet()
    (root / "Manually_Annotated_Images" / "2" / "b1.jpg").unlink()  # code 8 (none): never listed
    (root / "Manually_Annotated_Images" / "2" / "b0.jpg").unlink()  # contempt: not in AffectNet-7
    assert len(read(str(root))) == 4
