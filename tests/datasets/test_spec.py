"""Data specs: parsing, reader options (names and types), and reading through the registry."""

from __future__ import annotations

import pytest

from fsfer.datasets import affectnet, ckplus, ferplus, rafdb
from fsfer.datasets.spec import DataSpec, parse_spec, reader_options
from fsfer.errors import SpecError

READERS = ("rafdb", "rafdb-compound", "fer2013", "ferplus", "sfew", "affectnet", "ckplus", "jaffe", "expw", "folder")


def test_parse_spec_parts() -> None:
    spec = parse_spec(" FERPlus:/data/fer/fer2013new.csv?mode=probability, x = 1 ")
    assert spec == DataSpec(
        format="ferplus", root="/data/fer/fer2013new.csv", options={"mode": "probability", "x": "1"},
        text="FERPlus:/data/fer/fer2013new.csv?mode=probability, x = 1",
    )  # fmt: skip
    assert parse_spec("synth") == DataSpec(format="synth", root="", options={}, text="synth")
    assert parse_spec("rafdb:C:/RAF-DB/basic").root == "C:/RAF-DB/basic"  # only the first colon splits
    assert parse_spec(spec) is spec


def test_parse_spec_errors() -> None:
    with pytest.raises(SpecError, match="empty data spec"):
        parse_spec("  ")
    with pytest.raises(SpecError, match="option 'peak' is not key=value"):
        parse_spec("ckplus:/data/ck?peak")


def test_options_are_coerced_to_the_default_type() -> None:
    opts = reader_options(parse_spec("ckplus:/d?peak=3,neutral=yes"), ckplus.read)
    assert opts == {"peak": 3, "neutral": True}
    assert reader_options(parse_spec("affectnet:/d?classes=8"), affectnet.read) == {"classes": 8}
    assert reader_options(parse_spec("ferplus:/d?mode=multi_target"), ferplus.read) == {"mode": "multi_target"}
    assert reader_options(parse_spec("rafdb:/d"), rafdb.read) == {}


def test_unknown_option_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match=r"unknown option 'frames' for format ckplus \(known: neutral, peak\)"):
        reader_options(parse_spec("ckplus:/d?frames=3"), ckplus.read)
    with pytest.raises(SpecError, match=r"unknown option 'image' for format jaffe \(known: none\)"):
        from fsfer.datasets import jaffe

        reader_options(parse_spec("jaffe:/d?image=x"), jaffe.read)


def test_bad_int_and_bool_values() -> None:
    with pytest.raises(SpecError, match="option classes='eight' must be a int"):
        reader_options(parse_spec("affectnet:/d?classes=eight"), affectnet.read)
    with pytest.raises(SpecError, match="option neutral='maybe' must be true or false"):
        reader_options(parse_spec("ckplus:/d?neutral=maybe"), ckplus.read)


def test_every_reader_is_registered() -> None:
    from fsfer.datasets import all_formats

    formats = all_formats()
    assert set(READERS) <= set(formats)
    for name in READERS:
        fmt = formats[name]
        assert fmt.name == name and fmt.layout.strip() and callable(fmt.read)
    assert formats["fer2013"].decode is not None and formats["ferplus"].decode is not None
    assert all(formats[n].decode is None for n in READERS if n not in ("fer2013", "ferplus"))


def test_read_records_with_options(make_ckplus, make_ferplus, make_affectnet) -> None:
    from fsfer.datasets import read_records

    df = read_records(f"ckplus:{make_ckplus()}?peak=2,neutral=true")
    assert len(df) == 9 and df.attrs["spec"].endswith("?peak=2,neutral=true")
    assert len(read_records(f"affectnet:{make_affectnet()}?classes=8")) == 6
    root = make_ferplus([("Training", "fer0.png", [0, 4, 4, 2, 0, 0, 0, 0, 0, 0])])
    assert read_records(f"ferplus:{root}?mode=probability")["targets"].tolist() == [{"happiness": 0.5, "surprise": 0.5}]
    with pytest.raises(SpecError, match="unknown option 'mod' for format ferplus"):
        read_records(f"ferplus:{root}?mod=probability")


def test_parts_without_equals_continue_the_previous_value() -> None:
    spec = parse_spec(r"folder:/d?subject=^(S\d{1,3})_,split=x")
    assert spec.options == {"subject": r"^(S\d{1,3})_", "split": "x"}
    assert parse_spec(r"folder:/d?subject=(\d{2,}),(a|b),,c").options == {"subject": r"(\d{2,}),(a|b),,c"}
    assert parse_spec("ckplus:/d?peak=2,").options == {"peak": "2"}  # a trailing comma says nothing
    with pytest.raises(SpecError, match=r"option '\^\(S\\\\d\{1' is not key=value"):
        parse_spec(r"folder:/d?^(S\d{1,3})_")


def test_text_option_keeps_the_regex() -> None:
    from fsfer.datasets import folder

    opts = reader_options(parse_spec(r"folder:/d?subject=^(S\d{1,3})_"), folder.read)
    assert opts == {"subject": r"^(S\d{1,3})_"}
