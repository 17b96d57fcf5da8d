"""FERPlus reader: the four label modes on hand-made vote rows, and the layout checks."""

from __future__ import annotations

import numpy as np
import pytest

from fsfer.datasets import fer2013, ferplus
from fsfer.errors import DataError, SpecError

read = ferplus.FORMATS[0].read

#     neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
# name -> (votes, {mode: expected target or None when dropped})
CASES: dict[str, tuple[list[int], dict[str, dict[str, float] | None]]] = {
    "unanimous": (
        [0, 10, 0, 0, 0, 0, 0, 0, 0, 0],
        {"majority": {"happiness": 1.0}, "probability": {"happiness": 1.0}, "multi_target": {"happiness": 1.0}},
    ),
    "clear_majority": (
        [4, 6, 0, 0, 0, 0, 0, 0, 0, 0],
        {
            "majority": {"happiness": 1.0},
            "probability": {"neutral": 0.4, "happiness": 0.6},
            "multi_target": {"neutral": 0.4, "happiness": 0.6},
        },
    ),
    "tie_half_half": (  # 5 is not more than half: no majority
        [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],
        {
            "majority": None,
            "probability": {"neutral": 0.5, "happiness": 0.5},
            "multi_target": {"neutral": 0.5, "happiness": 0.5},
        },
    ),
    "single_votes_are_outliers": (  # 4 of 10 wins only because the four single votes are removed
        [1, 1, 1, 1, 4, 2, 0, 0, 0, 0],
        {
            "majority": {"anger": 1.0},
            "probability": {"anger": 4 / 6, "disgust": 2 / 6},
            "multi_target": {"anger": 4 / 6, "disgust": 2 / 6},
        },
    ),
    "unknown_wins": (
        [0, 2, 0, 0, 0, 0, 0, 0, 8, 0],
        {"majority": None, "probability": None, "multi_target": None},
    ),
    "not_a_face": (
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
        {"majority": None, "probability": None, "multi_target": None},
    ),
    "three_emotions": (  # a tie at 3 brings in two columns at once: 3 emotions, 100% of votes
        [0, 4, 3, 3, 0, 0, 0, 0, 0, 0],
        {
            "majority": None,
            "probability": {"happiness": 0.4, "surprise": 0.3, "sadness": 0.3},
            "multi_target": {"happiness": 0.4, "surprise": 0.3, "sadness": 0.3},
        },
    ),
    "four_emotions": (  # the tie at 2 brings the count to 4 columns: discarded; 30% keeps only 4 of 10
        [0, 4, 2, 2, 2, 0, 0, 0, 0, 0],
        {"majority": None, "probability": None, "multi_target": None},
    ),
    "unknown_after_emotion_half": (  # stop at unknown with 5 of 10 kept (not more than half)
        [0, 5, 0, 0, 0, 0, 0, 0, 3, 2],
        {"majority": None, "probability": None, "multi_target": {"happiness": 1.0}},
    ),
    "unknown_after_emotion_kept": (  # stop at unknown with 7 of 10 kept
        [0, 7, 0, 0, 0, 0, 0, 0, 3, 0],
        {"majority": {"happiness": 1.0}, "probability": {"happiness": 1.0}, "multi_target": {"happiness": 1.0}},
    ),
    "unknown_tied_with_emotion": (  # unknown tied with happiness at the top: prob keeps 4 of 10 -> discard
        [0, 4, 0, 0, 0, 0, 0, 0, 4, 2],
        {"majority": None, "probability": None, "multi_target": {"happiness": 1.0}},
    ),
    "two_way_tie_at_top": (
        [0, 4, 4, 2, 0, 0, 0, 0, 0, 0],
        {
            "majority": None,
            "probability": {"happiness": 0.5, "surprise": 0.5},
            "multi_target": {"happiness": 0.5, "surprise": 0.5},
        },
    ),
    "spread_thin": (  # five columns tied at 2
        [0, 2, 2, 2, 2, 2, 0, 0, 0, 0],
        {"majority": None, "probability": None, "multi_target": None},
    ),
    "contempt": (
        [0, 0, 0, 0, 0, 0, 0, 10, 0, 0],
        {"majority": {"contempt": 1.0}, "probability": {"contempt": 1.0}, "multi_target": {"contempt": 1.0}},
    ),
    "all_single_votes": (
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        {"majority": None, "probability": None, "multi_target": None},
    ),
}
# name -> expected label (argmax; the first column in file order on ties)
LABELS = {"tie_half_half": "neutral", "two_way_tie_at_top": "happiness", "three_emotions": "happiness",
          "clear_majority": "happiness", "single_votes_are_outliers": "anger"}  # fmt: skip


def _expect(name: str, mode: str) -> dict[str, float] | None:
    table = CASES[name][1]
    return table["probability" if mode == "crossentropy" else mode]


def test_columns_and_labels() -> None:
    assert ferplus.VOTE_COLUMNS[:8] == ferplus.FERPLUS_LABELS
    assert ferplus.FERPLUS_LABELS == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
    assert ferplus.MODES == ("majority", "probability", "crossentropy", "multi_target")
    assert ferplus.FORMATS[0].decode is fer2013.decode


@pytest.mark.parametrize("mode", ferplus.MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_vote_target(name: str, mode: str) -> None:
    got = ferplus.vote_target(CASES[name][0], mode)
    want = _expect(name, mode)
    if want is None:
        assert got is None
    else:
        assert got is not None and got.keys() == want.keys()
        assert got == pytest.approx(want)
        assert sum(got.values()) == pytest.approx(1.0)


def test_vote_target_bad_mode() -> None:
    with pytest.raises(SpecError, match="known modes: majority, probability, crossentropy, multi_target"):
        ferplus.vote_target([0] * 10, "soft")


def _rows() -> list[tuple[str, str, list[int]]]:
    usages = ["Training", "PublicTest", "PrivateTest"]
    rows = [(usages[k % 3], f"fer{k:07d}.png", votes) for k, (votes, _) in enumerate(CASES.values())]
    rows.append(("Training", "", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]))  # dropped by FERPlus: no image name
    return rows


@pytest.mark.parametrize("mode", ferplus.MODES)
def test_read_modes(make_ferplus, mode: str) -> None:
    root = make_ferplus(_rows())
    df = read(str(root), mode=mode)
    names = list(CASES)
    kept = [k for k, name in enumerate(names) if _expect(name, mode) is not None]
    assert df["item"].tolist() == [f"fer2013.csv#row{k}" for k in kept]
    assert df["split"].tolist() == [["train", "val", "test"][k % 3] for k in kept]
    for rec, k in zip(df.itertuples(), kept):
        want = _expect(names[k], mode)
        assert rec.label == LABELS.get(names[k], next(iter(want)))
        if mode == "majority":
            assert rec.targets is None
        else:
            assert rec.targets == pytest.approx(want)
    assert df["path"].isna().all() and set(df["source"]) == {"ferplus"}


def test_exact_counts_per_mode(make_ferplus) -> None:
    root = make_ferplus(_rows())
    counts = {mode: len(read(str(root), mode=mode)) for mode in ferplus.MODES}
    assert counts == {"majority": 5, "probability": 8, "crossentropy": 8, "multi_target": 10}


def test_root_may_be_the_label_csv_and_decode(make_ferplus, fer_face) -> None:
    root = make_ferplus(_rows())
    df = read(str(root / "fer2013new.csv"))
    assert df["item"].iloc[1] == "fer2013.csv#row1"
    img = ferplus.FORMATS[0].decode(df.iloc[1])
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[:, :, 2], fer_face(1))


def test_bad_mode(make_ferplus) -> None:
    with pytest.raises(SpecError, match="unknown mode 'soft'"):
        read(str(make_ferplus(_rows())), mode="soft")


def test_missing_root(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file or folder; expected the folder holding fer2013new.csv"):
        read(str(tmp_path / "nope"))


def test_missing_label_file(make_ferplus) -> None:
    root = make_ferplus(_rows())
    (root / "fer2013new.csv").unlink()
    with pytest.raises(DataError, match=r"fer2013new\.csv: no such file; expected the FERPlus label file"):
        read(str(root))


def test_missing_pixels_file(make_ferplus) -> None:
    root = make_ferplus(_rows())
    (root / "fer2013.csv").unlink()
    with pytest.raises(DataError, match=r"fer2013\.csv: no such file; .*put fer2013\.csv beside fer2013new\.csv"):
        read(str(root))


def test_malformed_votes_name_line(make_ferplus) -> None:
    rows = _rows()
    rows[2] = ("PrivateTest", "fer0000002.png", [0, 5, "x", 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(DataError, match=r"fer2013new\.csv, line 4: expected 10 vote counts"):
        read(str(make_ferplus(rows)))


def test_negative_vote_out_of_range(make_ferplus) -> None:
    rows = _rows()
    rows[0] = ("Training", "fer0000000.png", [0, 11, -1, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(DataError, match=r"line 2: expected 10 vote counts \(integers >= 0\)"):
        read(str(make_ferplus(rows)))


def test_row_counts_must_match(make_ferplus) -> None:
    rows = _rows()
    root = make_ferplus(rows, fer_rows=[(0, usage) for usage, _, _ in rows[:-2]])
    with pytest.raises(DataError, match=r"16 data rows but .*fer2013\.csv has 14; FERPlus needs one row per FER2013 row"):
        read(str(root))


def test_usage_must_match(make_ferplus) -> None:
    rows = _rows()
    fer_rows = [(0, usage) for usage, _, _ in rows]
    fer_rows[1] = (0, "Training")
    with pytest.raises(DataError, match=r"line 3: Usage PublicTest differs from Training in .*fer2013\.csv, line 3"):
        read(str(make_ferplus(rows, fer_rows=fer_rows)))


def test_bad_pixels_of_kept_row(make_ferplus) -> None:
    root = make_ferplus(_rows())
    text = (root / "fer2013.csv").read_text().splitlines()
    text[1] = "0,1 2 3,Training"
    (root / "fer2013.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"fer2013\.csv, line 2: 'pixels' holds 3 values"):
        read(str(root))
