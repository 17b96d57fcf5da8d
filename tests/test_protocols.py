"""Protocols: the shipped files, class splits, carving validation, missing data and classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fsfer.datasets.base import make_records
from fsfer.errors import ConfigError
from fsfer.protocol_data import load_protocol_data, protocol_records
from fsfer.protocols import available_protocols, load_protocol, protocol_from_classes

SHIPPED = {"crn-rafdb", "crn-fer2013", "crn-sfew", "rafdb-basic-to-compound", "cdnet-compound",
           "synth-basic-to-compound", "synth-lab-to-wild"}


def test_every_shipped_protocol_loads() -> None:
    assert SHIPPED <= set(available_protocols())
    for name in SHIPPED:
        p = load_protocol(name)
        assert p.name == name
        assert not set(p.classes("base")) & set(p.classes("novel"))


def test_crn_split_is_the_papers() -> None:
    p = load_protocol("crn-rafdb")
    assert p.classes("base") == ["happiness", "neutral", "sadness", "surprise"]
    assert p.classes("novel") == ["anger", "disgust", "fear"]
    assert p.classes("val") == p.classes("base") and p.val.carve
    assert p.data == ("rafdb",)


def _records(subjects: bool):
    rows = []
    for s in range(10):
        for label in ("happiness", "sadness", "anger"):
            for k in range(3):
                rows.append({"item": f"{label}/{s}_{k}.png", "label": label, "split": "train",
                             "subject": f"S{s:03d}" if subjects else None})
    return make_records(rows, source="folder", root="/x")


@pytest.mark.parametrize("subjects", [True, False])
def test_carved_validation_is_disjoint_and_seeded(subjects: bool) -> None:
    p = protocol_from_classes(["happiness", "sadness"], ["anger"], val_fraction=0.2)
    rec = _records(subjects)
    base, val, novel = (p.rows(rec, part) for part in ("base", "val", "novel"))
    assert not set(base) & set(val)
    assert len(base) + len(val) == 60 and len(novel) == 30
    assert set(rec["label"].iloc[val]) == {"happiness", "sadness"}
    if subjects:  # by subject: 2 of 10 subjects, none shared with base
        assert rec["subject"].iloc[val].nunique() == 2
        assert not set(rec["subject"].iloc[val]) & set(rec["subject"].iloc[base])
    else:  # by image, per class: 20% of 30
        assert (rec["label"].iloc[val].value_counts() == 6).all()
    assert np.array_equal(p.rows(rec, "val"), val)


def test_protocol_from_file_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text('[base]\nclasses = ["happy", "sad"]\n[novel]\nclasses = ["angry"]\n[val]\ncarve = true\n')
    p = load_protocol(str(good))
    assert p.name == "mine" and p.classes("base") == ["happiness", "sadness"]
    bad = tmp_path / "bad.toml"
    bad.write_text('colour = 3\n[base]\nclasses = ["happy"]\n[novel]\nclasses = ["angry"]\n')
    with pytest.raises(ConfigError, match=r"bad.toml: unknown key 'colour'"):
        load_protocol(str(bad))
    overlap = tmp_path / "o.toml"
    overlap.write_text('[base]\nclasses = ["happy"]\n[novel]\nclasses = ["happiness"]\n')
    with pytest.raises(ConfigError, match="both base and novel"):
        load_protocol(str(overlap))
    with pytest.raises(ConfigError, match="no such protocol file.*crn-rafdb"):
        load_protocol("no-such-protocol")


def test_protocol_without_its_data_names_the_spec() -> None:
    with pytest.raises(ConfigError, match="needs rafdb data: pass --data rafdb:ROOT"):
        protocol_records(load_protocol("crn-rafdb"), ["synth"])
    with pytest.raises(ConfigError, match="needs rafdb-compound data"):
        protocol_records(load_protocol("cdnet-compound"), ["synth"])


def test_protocol_class_missing_from_data_is_named(tmp_path: Path) -> None:
    for label in ("happiness", "sadness"):
        (tmp_path / label).mkdir()
        from PIL import Image

        Image.new("RGB", (4, 4)).save(tmp_path / label / "a.png")
    p = protocol_from_classes(["happiness", "sadness"], ["anger"])
    with pytest.raises(ConfigError, match="novel class 'anger' is not in folder:"):
        protocol_records(p, [f"folder:{tmp_path}"])


def test_synth_protocols_need_no_data_and_are_subject_disjoint() -> None:
    d = load_protocol_data(load_protocol("synth-basic-to-compound"), decode=False)
    rec = d.store.records
    subjects = {part: set(rec["subject"].iloc[rows]) for part, rows in d.rows.items()}
    assert not subjects["base"] & subjects["novel"] and not subjects["base"] & subjects["val"]
    assert set(rec["label"].iloc[d.rows["novel"]]) == set(d.classes("novel")) and len(d.classes("novel")) == 15
    w = load_protocol_data(load_protocol("synth-lab-to-wild"), decode=False)
    assert set(w.store.records["domain"].iloc[w.rows["base"]]) == {"lab"}
    assert set(w.store.records["domain"].iloc[w.rows["novel"]]) == {"wild"}


def test_a_projects_own_episodes_folder_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = available_protocols()
    monkeypatch.chdir(tmp_path)
    assert available_protocols() == shipped  # the shipped files are found from anywhere
    assert load_protocol("crn-rafdb").classes("novel") == ["anger", "disgust", "fear"]
    (tmp_path / "episodes").mkdir()
    (tmp_path / "episodes" / "mine.toml").write_text('[base]\nclasses = ["happy"]\n[novel]\nclasses = ["angry"]\n')
    (tmp_path / "episodes" / "crn-rafdb.toml").write_text('[base]\nclasses = ["sad"]\n[novel]\nclasses = ["fear"]\n')
    assert available_protocols() == sorted({*shipped, "mine"})
    assert load_protocol("mine").classes("base") == ["happiness"]
    assert load_protocol("crn-rafdb").classes("base") == ["sadness"]  # the project's own shadows the shipped one


def test_shipped_protocols_are_package_data() -> None:
    from fsfer.protocols import PROTOCOL_DIR

    assert PROTOCOL_DIR.parent.name == "fsfer" and (PROTOCOL_DIR / "crn-rafdb.toml").is_file()
    assert {p.name for p in PROTOCOL_DIR.glob("*.toml")} == {p.name for p in (PROTOCOL_DIR.parent.parent / "episodes").glob("*.toml")}


def test_shipped_protocols_are_found_when_the_link_is_a_plain_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout without symlink support holds ``fsfer/protocol_files`` as a text file naming its target."""
    import fsfer.protocols as protocols

    package = tmp_path / "fsfer"
    package.mkdir()
    (package / "protocol_files").write_text("../episodes")
    (tmp_path / "episodes").mkdir()
    (tmp_path / "episodes" / "only-here.toml").write_text('[base]\nclasses = ["happy"]\n[novel]\nclasses = ["angry"]\n')
    monkeypatch.setattr(protocols, "PROTOCOL_DIR", package / "protocol_files")
    monkeypatch.chdir(tmp_path / "fsfer")  # no ./episodes here
    assert available_protocols() == ["only-here"]
    assert load_protocol("only-here").classes("novel") == ["anger"]
