"""ExpW reader: one record per face, boxes reordered to (left, top, right, bottom)."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import expw
from fsfer.errors import DataError

read = expw.FORMATS[0].read


def test_label_map() -> None:
    assert expw.EXPW_LABELS == {
        0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral",
    }  # fmt: skip


def test_listing(make_expw) -> None:
    root = make_expw()
    df = read(str(root))
    assert df["item"].tolist() == [
        "image/origin/angry_actor_104.jpg#face0",
        "image/origin/angry_actor_104.jpg#face1",
        "image/origin/happy_child_7.jpg#face0",
        "image/origin/sad_man_3.jpg#face0",
    ]
    # label.lst: top left right bottom -> box (left, top, right, bottom)
    assert df["box"].tolist() == [(113, 28, 226, 141), (10, 2, 60, 70), (6, 5, 7, 8), (0, 0, 4, 4)]
    assert df["label"].tolist() == ["anger", "happiness", "happiness", "neutral"]
    assert df["path"].iloc[1] == os.path.join(os.path.abspath(root), "image", "origin", "angry_actor_104.jpg")
    assert df["path"].iloc[0] == df["path"].iloc[1]  # two faces of one image
    assert set(df["split"]) == {"train"} and df["subject"].isna().all()


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder; expected the ExpW folder"):
        read(str(tmp_path / "ExpW"))


def test_missing_label_file(make_expw) -> None:
    root = make_expw()
    (root / "label" / "label.lst").unlink()
    with pytest.raises(DataError, match=r"label\.lst: no such file; expected the ExpW label list"):
        read(str(root))


def test_malformed_line(make_expw) -> None:
    root = make_expw(["a.jpg 0 1 2 3 4 5.0 3", "", "b.jpg 0 1 2 3 4 3"])
    with pytest.raises(DataError, match=r"label\.lst, line 3: expected 'image_name face_id_in_image"):
        read(str(root))


def test_label_out_of_range(make_expw) -> None:
    root = make_expw(["a.jpg 0 1 2 3 4 5.0 3", "a.jpg 1 1 2 3 4 5.0 7"])
    with pytest.raises(DataError, match=r"line 2: expression label 7 is outside 0\.\.6"):
        read(str(root))


def test_empty_box(make_expw) -> None:
    root = make_expw(["a.jpg 0 10 20 20 30 5.0 3"])
    with pytest.raises(DataError, match="line 1: face box top=10 left=20 right=20 bottom=30 is empty"):
        read(str(root))


def test_duplicate_face(make_expw) -> None:
    root = make_expw(["a.jpg 0 1 2 3 4 5.0 3", "a.jpg 0 1 2 3 4 5.0 3"])
    with pytest.raises(DataError, match="line 2: face 0 of a.jpg is already listed on line 1"):
        read(str(root))


def test_missing_image(make_expw) -> None:
    root = make_expw(images=["angry_actor_104.jpg", "sad_man_3.jpg"])
    with pytest.raises(DataError, match=r"happy_child_7\.jpg: image listed in .*label\.lst is missing"):
        read(str(root))
