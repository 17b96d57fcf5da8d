"""CK+ reader: labelled sequences, peak frames, neutral first frames, subjects."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import ckplus
from fsfer.errors import DataError, SpecError

read = ckplus.FORMATS[0].read
IMG = "cohn-kanade-images"


def test_label_map() -> None:
    assert ckplus.CKPLUS_LABELS == {
        0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness", 6: "sadness", 7: "surprise",
    }  # fmt: skip
    assert set(ckplus.FORMATS[0].options) == {"peak", "neutral"}


def test_peak_frames_only(make_ckplus) -> None:
    root = make_ckplus()
    df = read(str(root))
    assert df["item"].tolist() == [
        f"{IMG}/S005/001/S005_001_00000004.png",
        f"{IMG}/S010/002/S010_002_00000005.png",
        f"{IMG}/S011/001/S011_001_00000003.png",
    ]
    assert df["label"].tolist() == ["disgust", "contempt", "surprise"]
    assert df["subject"].tolist() == ["S005", "S010", "S011"]
    assert df["sequence"].tolist() == ["S005/001", "S010/002", "S011/001"]
    assert set(df["split"]) == {"train"} and df["box"].isna().all()
    assert df["path"].iloc[0] == os.path.join(os.path.abspath(root), IMG, "S005", "001", "S005_001_00000004.png")


def test_last_three_frames_and_neutral(make_ckplus) -> None:
    df = read(str(make_ckplus()), peak=3, neutral=True)
    assert len(df) == 11  # S005: 1 + 3, S010/002: 1 + 3, S011 (3 frames): 1 + 2; S010/003 unlabelled
    assert df["label"].value_counts().to_dict() == {"neutral": 3, "disgust": 3, "contempt": 3, "surprise": 2}
    neutral = df[df["label"] == "neutral"]["item"].tolist()
    assert neutral == [
        f"{IMG}/S005/001/S005_001_00000001.png",
        f"{IMG}/S010/002/S010_002_00000001.png",
        f"{IMG}/S011/001/S011_001_00000001.png",
    ]
    assert df[df["label"] == "surprise"]["item"].str[-6:].tolist() == ["02.png", "03.png"]
    assert df["item"].is_unique
    assert df.groupby("subject").size().to_dict() == {"S005": 4, "S010": 4, "S011": 3}


def test_peak_larger_than_sequence(make_ckplus) -> None:
    df = read(str(make_ckplus()), peak=10)
    assert len(df) == 12  # every frame of the three labelled sequences
    assert "neutral" not in set(df["label"])


def test_peak_frame_named_by_emotion_file(make_ckplus, add_image) -> None:
    root = make_ckplus([("S005", "001", 3, 3)])
    add_image(root / IMG / "S005" / "001" / "S005_001_00000004.png")
    df = read(str(root), peak=2)  # frame 4 lies beyond the peak frame 3 the label file names
    assert df["item"].str[-6:].tolist() == ["02.png", "03.png"]


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder; expected the CK\\+ folder"):
        read(str(tmp_path / "CK+"))


def test_missing_label_folder(make_ckplus) -> None:
    root = make_ckplus()
    (root / "Emotion").rename(root / "Emotion_labels")
    with pytest.raises(DataError, match="Emotion: no such folder; expected the CK\\+ label folder"):
        read(str(root))


def test_malformed_emotion_file(make_ckplus) -> None:
    root = make_ckplus()
    (root / "Emotion" / "S010" / "002" / "S010_002_00000005_emotion.txt").write_text("\ncontempt\n")
    with pytest.raises(DataError, match=r"S010_002_00000005_emotion\.txt, line 2: expected an emotion code"):
        read(str(root))


def test_label_out_of_range(make_ckplus) -> None:
    root = make_ckplus([("S005", "001", 2, 8)])
    with pytest.raises(DataError, match=r"_emotion\.txt, line 1: emotion code 8 is outside 0\.\.7"):
        read(str(root))


def test_missing_peak_image(make_ckplus) -> None:
    root = make_ckplus()
    (root / IMG / "S011" / "001" / "S011_001_00000003.png").unlink()
    with pytest.raises(DataError, match=r"S011_001_00000003\.png: peak frame named by .*_emotion\.txt is missing"):
        read(str(root))


def test_bad_peak_option(make_ckplus) -> None:
    with pytest.raises(SpecError, match="peak=0 must be at least 1"):
        read(str(make_ckplus()), peak=0)


def test_every_frame_records_its_sequence(make_ckplus) -> None:
    root = make_ckplus([("S005", "001", 4, 3), ("S005", "002", 3, 5), ("S010", "001", 3, 7)])
    df = read(str(root), peak=2, neutral=True)
    assert df.groupby("sequence").size().to_dict() == {"S005/001": 3, "S005/002": 3, "S010/001": 3}
    neutral = df[df["label"] == "neutral"]
    assert neutral["sequence"].tolist() == ["S005/001", "S005/002", "S010/001"]  # the neutral first frame too
    assert (df["sequence"].str.split("/").str[0] == df["subject"]).all()
    assert all(f"/{seq}/" in item for item, seq in zip(df["item"], df["sequence"]))
    assert "sequence = S005/001" in ckplus.FORMATS[0].layout
