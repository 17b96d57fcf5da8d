"""ImageStore: decoding, resizing, face boxes, the on-disk cache, unreadable images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fsfer import store as store_mod
from fsfer.datasets.base import make_records
from fsfer.errors import ConfigError, DataError, FsferWarning
from fsfer.store import ImageStore, cache_key, from_tensors, load_dataset, verify_records


def _write(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (20, 10)) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return str(path)


def _records(tmp_path: Path, n: int = 4):
    rows = []
    for i in range(n):
        label = ["happiness", "anger"][i % 2]
        p = _write(tmp_path / f"img{i}.png", (i * 40, 255 - i * 40, 7))
        rows.append({"item": f"img{i}.png", "path": p, "label": label, "split": "train"})
    return make_records(rows, source="folder", root=tmp_path)


def test_decodes_resizes_and_labels_in_canonical_order(tmp_path: Path) -> None:
    store = load_dataset(_records(tmp_path), image_size=16)
    assert isinstance(store, ImageStore)
    assert store.images.shape == (4, 3, 16, 16) and store.images.dtype == torch.uint8
    assert store.classes == ["happiness", "anger"]  # canonical order, not alphabetical
    assert store.labels.tolist() == [0, 1, 0, 1]
    assert store.images[1, :, 5, 5].tolist() == [40, 215, 7]
    assert store.class_counts() == {"happiness": 2, "anger": 2}


def test_face_box_is_cropped(tmp_path: Path) -> None:
    img = np.zeros((10, 20, 3), dtype=np.uint8)
    img[:, 10:] = 200  # right half bright
    p = tmp_path / "two.png"
    Image.fromarray(img).save(p)
    rec = make_records(
        [{"item": "two.png#face0", "path": str(p), "box": (10, 0, 20, 10), "label": "fear", "split": "train"}],
        source="folder",
        root=tmp_path,
    )
    store = load_dataset(rec, image_size=8, cache=False)
    assert int(store.images.min()) == 200


def test_second_load_comes_from_cache_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _records(tmp_path)
    first = load_dataset(rec, image_size=16, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1

    def boom(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(store_mod, "decode_record", boom)
    second = load_dataset(rec, image_size=16, cache_dir=tmp_path / "cache")
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.labels, second.labels)


def test_cache_key_changes_with_content_and_size(tmp_path: Path) -> None:
    rec = _records(tmp_path)
    k = cache_key(rec, 16)
    assert cache_key(rec, 16) == k
    assert cache_key(rec, 32) != k
    other = rec.copy()
    other.loc[0, "label"] = "fear"
    assert cache_key(other, 16) != k
    _write(tmp_path / "img0.png", (1, 2, 3), size=(21, 10))  # the file changed on disk
    assert cache_key(rec, 16) != k


def test_unreadable_image_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    rec = _records(tmp_path)
    Path(rec.loc[2, "path"]).write_bytes(b"not an image")
    with pytest.warns(FsferWarning, match="img2.png"):
        store = load_dataset(rec, image_size=8, cache_dir=tmp_path / "c")
    assert len(store) == 3 and store.unreadable == ["img2.png"]
    assert store.records["item"].tolist() == ["img0.png", "img1.png", "img3.png"]
    assert store.images[2, :, 0, 0].tolist() == [120, 135, 7]  # img3, compacted in place
    with pytest.warns(FsferWarning):  # from the cache: same result, still warned
        again = load_dataset(rec, image_size=8, cache_dir=tmp_path / "c")
    assert torch.equal(store.images, again.images)
    assert verify_records(rec) == ["img2.png"]


def test_strict_makes_unreadable_an_error_and_writes_no_cache(tmp_path: Path) -> None:
    rec = _records(tmp_path)
    Path(rec.loc[1, "path"]).write_bytes(b"")
    with pytest.raises(DataError, match="img1.png"):
        load_dataset(rec, image_size=8, cache_dir=tmp_path / "c", strict=True)
    assert list((tmp_path / "c").glob("*")) == []


def test_bad_image_size_and_unknown_labels(tmp_path: Path) -> None:
    rec = _records(tmp_path)
    with pytest.raises(ConfigError, match="image size"):
        load_dataset(rec, image_size=2)
    with pytest.raises(ConfigError, match="anger"):
        load_dataset(rec, image_size=8, classes=["happiness"])


def test_from_tensors_and_select() -> None:
    images = torch.randint(0, 255, (6, 3, 8, 8), dtype=torch.uint8)
    store = from_tensors(images, [0, 1, 2, 0, 1, 2], ["a", "b", "c"])
    assert store.records["label"].tolist() == ["a", "b", "c", "a", "b", "c"]
    sub = store.select([1, 4])
    assert sub.labels.tolist() == [1, 1] and torch.equal(sub.images, images[[1, 4]])
    floats = from_tensors(torch.ones(1, 3, 4, 4), [0], ["x"])
    assert floats.images.dtype == torch.uint8 and int(floats.images.max()) == 255
    with pytest.raises(ConfigError, match=r"\[N, 3, S, S\]"):
        from_tensors(torch.zeros(2, 1, 4, 4), [0, 0], ["x"])
    with pytest.raises(ConfigError, match="0..0"):
        from_tensors(torch.zeros(1, 3, 4, 4), [1], ["x"])


@pytest.mark.parametrize("hugepages", [True, False])
def test_in_memory_copies_the_images_out_of_the_cache(tmp_path: Path, hugepages: bool) -> None:
    records = _records(tmp_path)
    load_dataset(records, 16, cache_dir=tmp_path / "cache")
    cached = load_dataset(records, 16, cache_dir=tmp_path / "cache")  # memory-mapped from the .npy cache
    resident = cached.in_memory(hugepages=hugepages)
    assert torch.equal(resident.images, cached.images) and resident.images.is_contiguous()
    assert resident.images.data_ptr() != cached.images.data_ptr() and resident.classes == cached.classes
    resident.images.zero_()  # a private copy: the cached store is untouched
    assert int(cached.images.max()) > 0
