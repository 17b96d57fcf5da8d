"""FER2013 reader: CSV listing without pixel parsing, and decode."""

from __future__ import annotations

import numpy as np
import pytest

from fsfer.datasets import fer2013
from fsfer.errors import DataError

read = fer2013.FORMATS[0].read


def test_label_map_and_format() -> None:
    assert fer2013.FER2013_LABELS == {
        0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral",
    }  # fmt: skip
    fmt = fer2013.FORMATS[0]
    assert fmt.name == "fer2013" and fmt.decode is fer2013.decode and "Usage" in fmt.layout


def test_listing(make_fer2013, fer_face) -> None:
    path = make_fer2013()
    df = read(str(path))
    assert len(df) == 7
    assert df["label"].tolist() == ["anger", "happiness", "neutral", "disgust", "surprise", "fear", "sadness"]
    assert df["split"].tolist() == ["train"] * 4 + ["val"] * 2 + ["test"]
    assert df["item"].tolist() == [f"fer2013.csv#row{k}" for k in range(7)]
    assert df["path"].isna().all() and df["box"].isna().all() and df["subject"].isna().all()
    assert isinstance(df["pixels"].iloc[0], str)  # listing keeps the raw string
    assert df["pixels"].iloc[3] == " ".join(str(v) for v in fer_face(3).ravel())
    assert set(df["source"]) == {"fer2013"}


def test_root_may_be_the_folder(make_fer2013) -> None:
    path = make_fer2013()
    assert read(str(path.parent))["item"].tolist() == read(str(path))["item"].tolist()


def test_decode(make_fer2013, fer_face) -> None:
    df = read(str(make_fer2013()))
    img = fer2013.decode(df.iloc[2])
    assert img.dtype == np.uint8 and img.shape == (48, 48, 3)
    np.testing.assert_array_equal(img[:, :, 0], fer_face(2))
    np.testing.assert_array_equal(img[:, :, 1], img[:, :, 2])
    assert fer2013.decode(df.iloc[2], 48).shape == (48, 48, 3)
    small = fer2013.decode(df.iloc[2], size=24)
    assert small.shape == (24, 24, 3) and small.dtype == np.uint8
    row = next(df.itertuples())  # namedtuples work too
    np.testing.assert_array_equal(fer2013.decode(row)[:, :, 0], fer_face(0))


def test_decode_errors_name_the_row(make_fer2013) -> None:
    bad_value = " ".join(["300"] + ["0"] * 2303)
    bad_token = " ".join(["0"] * 10 + ["x"] + ["0"] * 2293)
    df = read(str(make_fer2013(pixels={1: bad_value, 4: bad_token})))  # listing does not parse values
    with pytest.raises(DataError, match=r"fer2013\.csv#row1: pixel value 300 is outside 0\.\.255"):
        fer2013.decode(df.iloc[1])
    with pytest.raises(DataError, match=r"fer2013\.csv#row4: pixel value 'x' is not an integer"):
        fer2013.decode(df.iloc[4])


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file or folder; expected fer2013.csv"):
        read(str(tmp_path / "missing.csv"))


def test_missing_csv_in_folder(tmp_path) -> None:
    with pytest.raises(DataError, match=r"fer2013\.csv: no such file; expected fer2013\.csv in the folder"):
        read(str(tmp_path))


def test_bad_header(tmp_path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels\n0,1 2 3\n")
    with pytest.raises(DataError, match="line 1: header lacks column.*Usage"):
        read(str(path))


def test_wrong_pixel_count_names_line(make_fer2013) -> None:
    path = make_fer2013(pixels={2: "1 2 3"})
    with pytest.raises(DataError, match=r"fer2013\.csv, line 4: 'pixels' holds 3 values, expected 2304"):
        read(str(path))


def test_malformed_line_names_line(make_fer2013) -> None:
    path = make_fer2013()
    with open(path, "a") as fh:
        fh.write("3,1 2 3\n")
    with pytest.raises(DataError, match=r"line 9: expected 3 fields"):
        read(str(path))


def test_label_out_of_range(make_fer2013) -> None:
    path = make_fer2013(rows=[(0, "Training"), (7, "Training")])
    with pytest.raises(DataError, match=r"line 3: emotion '7' is not a FER2013 label 0\.\.6"):
        read(str(path))


def test_bad_usage(make_fer2013) -> None:
    path = make_fer2013(rows=[(0, "Validation")])
    with pytest.raises(DataError, match="line 2: Usage 'Validation' is not one of Training, PublicTest, PrivateTest"):
        read(str(path))
