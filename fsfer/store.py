"""ImageStore: every image of a dataset decoded once, as one uint8 tensor.

Images are decoded to RGB, cropped to their face box, resized to a square size and
kept as ``images`` ``[N, 3, S, S]`` uint8 with ``labels`` ``[N]`` int64. The result
is cached on disk as a ``.npy`` file keyed by the records' content (items, paths,
file sizes and modification times, boxes, inline pixels, labels) and the size, so
a second load decodes nothing; the cache is memory-mapped, so a dataset larger
than RAM still works. The store can be moved to a GPU in one call.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from fsfer.datasets.base import make_records
from fsfer.datasets.registry import all_formats
from fsfer.datasets.spec import DataSpec, read_records
from fsfer.emotions import sort_classes
from fsfer.errors import ConfigError, DataError, FsferWarning
from fsfer.hugepages import empty_hugepages

#: Bump when the decoding changes, so old caches are not reused.
CACHE_VERSION = 1
MIN_SIZE, MAX_SIZE = 8, 1024


@dataclass
class ImageStore:
    """A decoded dataset.

    ``images``  uint8 ``[N, 3, S, S]`` (possibly memory-mapped, or on a GPU); ``None``
                for a labels-only store (:func:`index_dataset`), which can sample but not gather
    ``labels``  int64 ``[N]``, indices into ``classes``
    ``classes`` class names; ``records`` the Records table, one row per image
    ``unreadable`` items that could not be decoded and were left out
    """

    images: torch.Tensor | None
    labels: torch.Tensor
    classes: list[str]
    records: pd.DataFrame
    unreadable: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.numel())

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1]) if self.images is not None else 0

    @property
    def device(self) -> torch.device:
        return self.labels.device

    def to(self, device: torch.device | str) -> "ImageStore":
        """The same store with images and labels on ``device`` (e.g. resident on a GPU)."""
        images = self.images.to(device) if self.images is not None else None
        return replace(self, images=images, labels=self.labels.to(device))

    def in_memory(self, hugepages: bool = True) -> "ImageStore":
        """The same store with its images copied into process memory (CPU).

        For the fastest sampling from a memory-mapped cache or a user's tensor: with
        ``hugepages`` the copy lives in memory advised for transparent huge pages
        (:mod:`fsfer.hugepages`), which makes random-row gathers faster on Linux.
        """
        if self.images is None:
            return self
        source = self.images.cpu()
        images = empty_hugepages(tuple(source.shape), source.dtype) if hugepages else torch.empty_like(source)
        images.copy_(source)
        return replace(self, images=images, labels=self.labels.cpu())

    def class_counts(self) -> dict[str, int]:
        """Images per class name, in class order."""
        counts = torch.bincount(self.labels.cpu(), minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, counts))

    def select(self, indices: torch.Tensor | np.ndarray | Sequence[int]) -> "ImageStore":
        """A store of the rows ``indices`` (same classes and label ids)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        records = self.records.iloc[idx.numpy()].reset_index(drop=True)
        records.attrs.update(self.records.attrs)
        images = self.images[idx.to(self.images.device)] if self.images is not None else None
        return replace(self, images=images, labels=self.labels[idx.to(self.device)], records=records)


def default_cache_dir() -> Path:
    """``$FSFER_CACHE`` if set, else ``~/.cache/fsfer``."""
    return Path(os.environ.get("FSFER_CACHE", Path.home() / ".cache" / "fsfer")).expanduser()


def load_dataset(
    spec: str | DataSpec | pd.DataFrame,
    image_size: int = 64,
    *,
    classes: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    cache: bool = True,
    workers: int | None = None,
    strict: bool = False,
    progress: bool = False,
) -> ImageStore:
    """Read a dataset (a data spec or a Records table) and decode it into an :class:`ImageStore`.

    ``classes`` fixes the class list (and so the label ids); by default it is the
    canonical order of the labels present. Unreadable images are skipped with a
    :class:`~fsfer.errors.FsferWarning` naming them, or raise :class:`DataError`
    when ``strict``. ``progress`` shows a progress bar on stderr while decoding.
    """
    if not MIN_SIZE <= int(image_size) <= MAX_SIZE:
        raise ConfigError(f"image size {image_size} is out of range; use a size from {MIN_SIZE} to {MAX_SIZE}")
    records = spec if isinstance(spec, pd.DataFrame) else read_records(spec)
    names = _class_list(records, classes)
    size = int(image_size)

    if cache:
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        stem = folder / f"{records.attrs.get('format', 'data')}-{size}px-{cache_key(records, size)[:20]}"
        images, unreadable = _load_cached(stem)
        if images is None:
            unreadable = _decode_to_cache(stem, records, size, workers=workers, progress=progress, strict=strict)
            images, unreadable = _load_cached(stem)
        if images is None:
            raise DataError(f"{_sibling(stem, '.npy')}: the image cache could not be read back; delete it or pass another cache_dir")
        _check_unreadable(unreadable, strict)
    else:
        out = np.empty((len(records), 3, size, size), dtype=np.uint8)
        ok = _decode_into(out, records, size, workers=workers, progress=progress)
        unreadable = records["item"][~ok].tolist()
        _check_unreadable(unreadable, strict)
        images = out if ok.all() else out[ok]

    keep = ~records["item"].isin(set(unreadable)).to_numpy()
    kept = records[keep].reset_index(drop=True)
    kept.attrs.update(records.attrs)
    index = {name: i for i, name in enumerate(names)}
    labels = torch.tensor([index[name] for name in kept["label"]], dtype=torch.long)
    return ImageStore(images=torch.from_numpy(images), labels=labels, classes=names, records=kept, unreadable=unreadable)


def index_dataset(spec: str | DataSpec | pd.DataFrame, *, classes: Sequence[str] | None = None) -> ImageStore:
    """A labels-only store (``images`` is ``None``): enough to sample and save episodes, nothing decoded."""
    records = spec if isinstance(spec, pd.DataFrame) else read_records(spec)
    names = _class_list(records, classes)
    index = {name: i for i, name in enumerate(names)}
    labels = torch.tensor([index[name] for name in records["label"]], dtype=torch.long)
    return ImageStore(images=None, labels=labels, classes=names, records=records)


def _class_list(records: pd.DataFrame, classes: Sequence[str] | None) -> list[str]:
    if len(records) == 0:
        raise DataError(f"{records.attrs.get('root', 'the dataset')}: the dataset holds no images")
    names = list(classes) if classes is not None else sort_classes(records["label"].unique().tolist())
    missing = sorted(set(records["label"]) - set(names))
    if missing:
        raise ConfigError(f"labels {missing} are not in the given class list {names}")
    return names


def from_tensors(images: torch.Tensor, labels: torch.Tensor | Sequence[int], classes: Sequence[str]) -> ImageStore:
    """An :class:`ImageStore` from tensors a user already has.

    ``images`` uint8 ``[N, 3, S, S]`` (float images in [0, 1] are converted),
    ``labels`` ``[N]`` in ``0..len(classes)-1``.
    """
    images = torch.as_tensor(images)
    labels = torch.as_tensor(labels, dtype=torch.long)
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
        raise ConfigError(f"images must be [N, 3, S, S]; got {list(images.shape)}")
    if labels.shape != (images.shape[0],):
        raise ConfigError(f"labels must be [N] with N = {images.shape[0]}; got {list(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
        raise ConfigError(f"labels must lie in 0..{len(classes) - 1} for {len(classes)} classes")
    if images.is_floating_point():
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    names = list(classes)
    rows = [
        {"item": f"tensor/{i}", "label": names[int(y)], "split": "train"} for i, y in enumerate(labels.tolist())
    ]
    return ImageStore(images=images, labels=labels, classes=names, records=make_records(rows, source="tensors", root=""))


def decode_record(row: Any, size: int) -> np.ndarray:
    """One record as uint8 ``[size, size, 3]`` RGB; raises OSError/ValueError when unreadable."""
    fmt = all_formats().get(row["source"])
    if fmt is not None and fmt.decode is not None:
        array = np.asarray(fmt.decode(row, size), dtype=np.uint8)
        image = Image.fromarray(array).convert("RGB") if array.shape[:2] != (size, size) or array.ndim != 3 else None
        if image is None:
            return array
    else:
        if row["path"] is None:
            raise ValueError(f"record {row['item']} has neither a path nor a decoder")
        with Image.open(row["path"]) as opened:
            image = opened.convert("RGB")
        box = row["box"]
        if box is not None:
            left, top, right, bottom = (int(v) for v in box)
            left, top = max(left, 0), max(top, 0)
            right, bottom = min(right, image.width), min(bottom, image.height)
            if right <= left or bottom <= top:
                raise ValueError(f"face box {tuple(box)} lies outside the {image.width}x{image.height} image")
            image = image.crop((left, top, right, bottom))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def verify_records(records: pd.DataFrame, *, workers: int | None = None, progress: bool = False) -> list[str]:
    """Decode every image (resized to 8 px) and return the items that cannot be read."""
    out = np.empty((len(records), 3, MIN_SIZE, MIN_SIZE), dtype=np.uint8)
    ok = _decode_into(out, records, MIN_SIZE, workers=workers, progress=progress)
    return records["item"][~ok].tolist()


def cache_key(records: pd.DataFrame, size: int) -> str:
    """A hex digest of what decides the decoded images: records, file stats, size, version."""
    h = hashlib.sha256(f"fsfer-store-v{CACHE_VERSION}|{size}|{len(records)}".encode())
    content = [c for c in records.columns if c not in ("split", "subject", "targets")]
    for col in content:
        h.update(col.encode())
        h.update(pd.util.hash_pandas_object(records[col].map(_stable_text), index=False).to_numpy().tobytes())
    if records["path"].notna().any():
        stats = [_file_stat(p) for p in records["path"]]
        h.update(json.dumps(stats).encode())
    return h.hexdigest()


def _stable_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()
    return repr(value)


def _file_stat(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _decode_into(
    out: np.ndarray, records: pd.DataFrame, size: int, *, workers: int | None, progress: bool
) -> np.ndarray:
    """Decode every record into ``out`` ``[N, 3, S, S]`` with parallel threads; returns the readable mask."""
    rows = records.to_dict("records")
    ok = np.zeros(len(rows), dtype=bool)

    def work(i: int) -> None:
        try:
            out[i] = decode_record(rows[i], size).transpose(2, 0, 1)
            ok[i] = True
        except (OSError, ValueError, DataError, SyntaxError):
            ok[i] = False

    n_workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    bar = _progress_bar(len(rows), progress, "decoding images")
    if n_workers <= 1:
        for i in range(len(rows)):
            work(i)
            bar.update(1)
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            for _ in pool.map(work, range(len(rows)), chunksize=64):
                bar.update(1)
    bar.close()
    return ok


def _decode_to_cache(
    stem: Path, records: pd.DataFrame, size: int, *, workers: int | None, progress: bool, strict: bool
) -> list[str]:
    """Decode straight into a memory-mapped ``.npy`` beside the final cache, then rename it in place.

    Nothing larger than one image is held in RAM, so datasets larger than memory work.
    Unreadable rows are compacted out chunk by chunk; a strict failure leaves no file.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(stem, f".tmp{os.getpid()}")
    data, meta, packed_path = _sibling(tmp, ".npy"), _sibling(tmp, ".json"), _sibling(tmp, ".packed.npy")
    try:
        out = np.lib.format.open_memmap(data, mode="w+", dtype=np.uint8, shape=(len(records), 3, size, size))
        ok = _decode_into(out, records, size, workers=workers, progress=progress)
        unreadable = records["item"][~ok].tolist()
        if strict:
            _check_unreadable(unreadable, strict)
        if unreadable:
            packed = np.lib.format.open_memmap(packed_path, mode="w+", dtype=np.uint8, shape=(int(ok.sum()), 3, size, size))
            at = 0
            for lo in range(0, len(records), 4096):
                block = out[lo : lo + 4096][ok[lo : lo + 4096]]
                packed[at : at + len(block)] = block
                at += len(block)
            packed.flush()
            del packed
            os.replace(packed_path, data)
        out.flush()
        del out
        meta.write_text(json.dumps({"version": CACHE_VERSION, "unreadable": unreadable}))
        os.replace(data, _sibling(stem, ".npy"))
        os.replace(meta, _sibling(stem, ".json"))
    finally:
        for leftover in (data, meta, packed_path):
            leftover.unlink(missing_ok=True)
    return unreadable


def _progress_bar(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def _check_unreadable(unreadable: list[str], strict: bool) -> None:
    if not unreadable:
        return
    first = ", ".join(unreadable[:3]) + (" ..." if len(unreadable) > 3 else "")
    if strict:
        raise DataError(f"{unreadable[0]}: cannot be decoded ({len(unreadable)} unreadable: {first}); fix or remove it")
    warnings.warn(f"skipped {len(unreadable)} unreadable image(s): {first}", FsferWarning, stacklevel=3)


def _sibling(stem: Path, suffix: str) -> Path:
    return stem.with_name(stem.name + suffix)


def _load_cached(stem: Path) -> tuple[np.ndarray | None, list[str]]:
    data, meta = _sibling(stem, ".npy"), _sibling(stem, ".json")
    if not (data.is_file() and meta.is_file()):
        return None, []
    try:
        info = json.loads(meta.read_text())
        images = np.load(data, mmap_mode="c")
    except (OSError, ValueError):
        return None, []
    return images, list(info.get("unreadable", []))
