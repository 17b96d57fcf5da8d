"""Face detection, eye alignment and extraction on scenes built from a real face photo (see conftest.py)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from fsfer.cli import run
from fsfer.faces import align_face, extract_faces, make_detector
from fsfer.faces.align import template_eyes

#: (x, y, scale, roll) of pasted faces: scales 0.6-1.2, rolls up to 10 degrees either way
PLACES = [(40, 60, 0.6, 0), (300, 100, 0.9, 5), (120, 150, 1.2, -5), (380, 40, 0.75, 10), (60, 90, 1.0, -10),
          (330, 180, 1.1, 8), (200, 30, 0.8, -8)]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_haar_finds_each_pasted_face_near_its_box_and_nothing_else(make_scene) -> None:
    detect = make_detector("haar")
    for i, place in enumerate(PLACES):
        rgb, (truth,) = make_scene([place], seed=i)
        faces = detect(rgb)
        assert len(faces) == 1, (place, faces)
        side = truth.box[2] - truth.box[0]
        found = faces[0].box
        centre = ((found[0] + found[2]) / 2, (found[1] + found[3]) / 2)
        want = ((truth.box[0] + truth.box[2]) / 2, (truth.box[1] + truth.box[3]) / 2)
        # within 15% of the face's side of its true centre, and its side within 25%
        assert math.dist(centre, want) <= 0.15 * side, (place, centre, want)
        assert abs((found[2] - found[0]) - side) <= 0.25 * side, (place, found, side)
    two, truths = make_scene([(40, 60, 0.9, 0), (360, 150, 0.9, 4)], seed=9)
    assert len(detect(two)) == 2
    empty, _ = make_scene([], seed=10)
    assert detect(empty) == []


def test_alignment_levels_the_eyes(make_scene) -> None:
    """Mapped through the alignment, the true eyes lie level within 4 degrees and within 8% of the crop's side
    of the template's places, for every face whose eyes the detector found (at least 6 of the 7)."""
    detect = make_detector("haar")
    with_eyes = 0
    for i, place in enumerate(PLACES):
        rgb, (truth,) = make_scene([place], seed=i)
        aligned = align_face(rgb, detect(rgb)[0], size=112, margin=0.2)
        assert aligned.image.shape == (112, 112, 3) and aligned.image.dtype == np.uint8
        if not aligned.from_eyes:
            continue
        with_eyes += 1
        left, right = (aligned.matrix @ np.array([x, y, 1.0]) for x, y in truth.eyes)
        angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
        assert abs(angle) <= 4.0, (place, angle)
        for got, want in zip((left, right), template_eyes(112, 0.2)):
            assert math.dist(got, want) <= 0.08 * 112, (place, got, want)
    assert with_eyes >= 6


def test_faces_command_writes_a_folder_dataset_with_its_manifest(make_scene, save_image, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    for i, place in enumerate(PLACES[:4]):
        save_image(photos / ("pain" if i % 2 else "smirk") / f"p{i}.png", make_scene([place], seed=i)[0])
    save_image(photos / "smirk" / "two.png", make_scene([(40, 60, 0.9, 0), (360, 150, 0.9, 4)], seed=9)[0])
    save_image(photos / "pain" / "empty.png", make_scene([], seed=10)[0])
    out = tmp_path / "aligned"
    capsys.readouterr()
    assert run(["faces", str(photos), str(out), "--size", "64", "--all-faces", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "fsfer: warning: no face found in 1 of 6 photo(s): pain/empty.png"
    with (out / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "source", "x0", "y0", "x1", "y1", "score", "face"]
    assert len(rows) == 6 and sorted(r["source"] for r in rows if r["face"] == "1") == ["smirk/two.png"]
    assert {r["path"] for r in rows} == {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert all(float(r["x1"]) > float(r["x0"]) and float(r["score"]) > 0 for r in rows)
    from fsfer.store import load_dataset

    store = load_dataset(f"folder:{out}", image_size=32, cache=False)
    assert store.classes == ["pain", "smirk"] and len(store) == 6  # trains and evaluates like any folder

    strict = tmp_path / "strict"
    assert run(["faces", str(photos), str(strict), "--strict", "--quiet"]) == 2
    assert "no face found in 1 photo(s), e.g. pain/empty.png (--strict)" in one_line(capsys)
    assert not strict.exists() and not list(tmp_path.glob(".strict*"))


def test_bad_input_is_one_line_and_exit_2(make_scene, save_image, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    save_image(empty / "a" / "x.png", make_scene([], seed=3)[0])
    capsys.readouterr()
    assert run(["faces", str(empty), str(tmp_path / "o1"), "--quiet"]) == 2
    assert "no face found in any of its 1 photo(s)" in one_line(capsys)
    broken = tmp_path / "broken"
    save_image(broken / "a" / "x.png", make_scene([(40, 60, 0.9, 0)])[0])
    (broken / "a" / "y.jpg").write_bytes(b"not a photo")
    assert run(["faces", str(broken), str(tmp_path / "o2"), "--quiet"]) == 2
    assert "y.jpg: not an image OpenCV can read" in one_line(capsys)
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not an onnx model")
    assert run(["faces", str(broken), str(tmp_path / "o3"), "--detector", str(fake)]) == 2
    assert "model.onnx: not a YuNet ONNX model OpenCV can load" in one_line(capsys)
    assert run(["faces", str(broken), str(tmp_path / "o3"), "--detector", "dlib"]) == 2
    assert "use haar, or a YuNet model file ending in .onnx" in one_line(capsys)
    assert not any((tmp_path / n).exists() for n in ("o1", "o2", "o3"))
