"""Generic class-folder reader: flat and split layouts, name normalisation, manifest subjects."""

from __future__ import annotations

import os

import pytest

from fsfer.datasets import folder
from fsfer.errors import DataError, SpecError

read = folder.FORMATS[0].read


def test_flat_layout(make_folder) -> None:
    root = make_folder(["Happy/a.png", "Happy/b.JPG", "sad/c.jpeg", "Cat/d.png", "contempt/e.bmp"],
                       files={"manifest.txt": "not an image", "Happy/notes.txt": "x", "top.png": ""})  # fmt: skip
    df = read(str(root))
    assert df["item"].tolist() == ["Cat/d.png", "Happy/a.png", "Happy/b.JPG", "contempt/e.bmp", "sad/c.jpeg"]
    assert df["label"].tolist() == ["Cat", "happiness", "happiness", "contempt", "sadness"]  # non-emotions kept as is
    assert set(df["split"]) == {"train"}
    assert df["subject"].isna().all() and df["box"].isna().all()
    assert df["path"].iloc[0] == os.path.join(os.path.abspath(root), "Cat", "d.png")
    assert set(df["source"]) == {"folder"}


def test_aliases_merge_into_one_class(make_folder) -> None:
    df = read(str(make_folder(["happy/a.png", "Happiness/b.png", "joy/c.png"])))
    assert df["label"].tolist() == ["happiness"] * 3


def test_nested_images_below_a_class(make_folder) -> None:
    df = read(str(make_folder(["anger/s01/a.png", "anger/s02/b.png", "anger/.hidden/c.png"])))
    assert df["item"].tolist() == ["anger/s01/a.png", "anger/s02/b.png"]


def test_split_layout(make_folder) -> None:
    root = make_folder(["Train/Angry/a.png", "Train/neutral/b.png", "VALID/angry/c.png", "test/Neutral/d.png",
                        "test/Neutral/e.png"])  # fmt: skip
    df = read(str(root))
    assert df[["item", "label", "split"]].values.tolist() == [
        ["Train/Angry/a.png", "anger", "train"],
        ["Train/neutral/b.png", "neutral", "train"],
        ["VALID/angry/c.png", "anger", "val"],
        ["test/Neutral/d.png", "neutral", "test"],
        ["test/Neutral/e.png", "neutral", "test"],
    ]


@pytest.mark.parametrize("name,split", [("validation", "val"), ("Val", "val"), ("TEST", "test"), ("train", "train")])
def test_split_names(make_folder, name: str, split: str) -> None:
    assert read(str(make_folder([f"{name}/fear/a.png"])))["split"].tolist() == [split]


def test_mixed_split_and_class_folders(make_folder) -> None:
    root = make_folder(["train/anger/a.png", "anger/b.png"])
    with pytest.raises(DataError, match=r"mixes split folders \(train\) with other folders \(anger\)"):
        read(str(root))


def test_two_folders_for_one_split(make_folder) -> None:
    root = make_folder(["val/anger/a.png", "valid/anger/b.png"])
    with pytest.raises(DataError, match="folders val and valid are both the val split"):
        read(str(root))


def test_manifest_subjects(make_folder) -> None:
    manifest = "path,subject\nhappy/a.png,s1\n./sad/c.png,s2\nhappy/b.png,\n"
    root = make_folder(["happy/a.png", "happy/b.png", "sad/c.png", "sad/d.png"], files={"manifest.csv": manifest})
    df = read(str(root))
    assert len(df) == 4  # manifest.csv is not an image
    assert dict(zip(df["item"], df["subject"])) == {"happy/a.png": "s1", "happy/b.png": None, "sad/c.png": "s2",
                                                     "sad/d.png": None}  # fmt: skip


def test_manifest_with_split_folders(make_folder) -> None:
    manifest = "subject,path\nA,train/anger/a.png\nB,test/anger/b.png\n"
    root = make_folder(["train/anger/a.png", "test/anger/b.png"], files={"manifest.csv": manifest})
    assert read(str(root))["subject"].tolist() == ["B", "A"]  # test/ sorts before train/


def test_manifest_without_subject_column(make_folder) -> None:
    root = make_folder(["happy/a.png"], files={"manifest.csv": "path,who\nhappy/a.png,s1\n"})
    with pytest.raises(DataError, match=r"manifest\.csv, line 1: expected a header with columns path,subject and/or path,split"):
        read(str(root))


def test_manifest_splits_a_flat_layout(make_folder) -> None:
    manifest = "path,split\nhappy/a.png,test\nhappy/b.png,Validation\nsad/c.png,\n"
    root = make_folder(["happy/a.png", "happy/b.png", "sad/c.png"], files={"manifest.csv": manifest})
    df = read(str(root))
    assert dict(zip(df["item"], df["split"])) == {"happy/a.png": "test", "happy/b.png": "val", "sad/c.png": "train"}
    assert df["subject"].isna().all()


def test_manifest_split_error_names_the_line(make_folder) -> None:
    root = make_folder(["happy/a.png"], files={"manifest.csv": "path,split\nhappy/a.png,holdout\n"})
    with pytest.raises(DataError, match=r"manifest\.csv, line 2: split 'holdout' of happy/a\.png is not one of train, val, test"):
        read(str(root))


def test_manifest_split_must_agree_with_split_folders(make_folder) -> None:
    root = make_folder(["train/anger/a.png"], files={"manifest.csv": "path,split\ntrain/anger/a.png,test\n"})
    with pytest.raises(DataError, match=r"train/anger/a\.png lies in the train folder but the manifest says test"):
        read(str(root))


def test_manifest_lists_absent_image(make_folder) -> None:
    root = make_folder(["happy/a.png"], files={"manifest.csv": "path,subject\nhappy/a.png,s1\nhappy/z.png,s2\n"})
    with pytest.raises(DataError, match=r"manifest\.csv, line 3: happy/z\.png is not an image of"):
        read(str(root))


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such folder; expected a folder of class folders"):
        read(str(tmp_path / "faces"))


def test_no_images(make_folder) -> None:
    root = make_folder([], files={"happy/readme.txt": "x"})
    with pytest.raises(DataError, match="no images found; expected ROOT/<class>/"):
        read(str(root))


def test_subject_from_file_names(make_folder) -> None:
    root = make_folder(["anger/S005_001_00000011.png", "anger/S010_002_00000005.png", "happy/S005_003_00000009.png"])
    df = read(str(root), subject=r"^(S\d+)_")
    assert dict(zip(df["item"], df["subject"])) == {"anger/S005_001_00000011.png": "S005",
                                                     "anger/S010_002_00000005.png": "S010",
                                                     "happy/S005_003_00000009.png": "S005"}  # fmt: skip


def test_subject_regex_without_group_is_the_whole_match(make_folder) -> None:
    root = make_folder(["anger/KA.AN1.39.tiff", "fear/KL.FE3.176.tiff"])
    assert read(str(root), subject=r"^[A-Z]{2}")["subject"].tolist() == ["KA", "KL"]


def test_subject_regex_searches_the_file_name_not_the_folder(make_folder) -> None:
    root = make_folder(["S9_anger/x_S1_a.png"])
    assert read(str(root), subject=r"(S\d+)_")["subject"].tolist() == ["S1"]


def test_manifest_subject_wins_over_the_regex(make_folder) -> None:
    manifest = "path,subject\nhappy/KA.HA2.30.tiff,kaori\nhappy/KL.HA1.2.tiff,\n"
    root = make_folder(["happy/KA.HA2.30.tiff", "happy/KL.HA1.2.tiff", "sad/YM.SA1.55.tiff", "sad/nomatch.tiff"],
                       files={"manifest.csv": manifest + "sad/nomatch.tiff,someone\n"})  # fmt: skip
    df = read(str(root), subject=r"^([A-Z]{2})\.")
    assert df["subject"].tolist() == ["kaori", "KL", "YM", "someone"]  # listed ones keep theirs


def test_subject_regex_mismatch_names_the_image_and_the_fix(make_folder) -> None:
    root = make_folder(["anger/S005_001.png", "anger/face1.png", "sad/face2.png"])
    with pytest.raises(DataError) as err:
        read(str(root), subject=r"^(S\d+)_")
    message = str(err.value)
    assert message.startswith(os.path.join(os.path.abspath(root), "anger", "face1.png") + ": ")
    assert r"'^(S\\d+)_'" in message and "(and 1 more)" in message
    assert "fix the pattern" in message and "manifest.csv" in message


def test_invalid_subject_regex_is_a_spec_error(make_folder) -> None:
    root = make_folder(["anger/a.png"])
    with pytest.raises(SpecError, match=r"option subject='\^\(S' is not a valid regular expression \(missing \), "):
        read(str(root), subject="^(S")


def test_subject_option_through_a_data_spec(make_folder) -> None:
    from fsfer.datasets import all_formats, read_records

    root = make_folder(["anger/S005_001_00000011.png", "anger/S12_001_00000002.png"])
    df = read_records(rf"folder:{root}?subject=^(S\d{{1,3}})_")  # the comma stays in the regex
    assert df["subject"].tolist() == ["S005", "S12"]
    fmt = all_formats()["folder"]
    assert set(fmt.options) == {"subject"} and "?subject=REGEX" in fmt.layout
