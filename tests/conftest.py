"""Shared fixtures: every test gets its own image cache folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FSFER_CACHE", str(tmp_path_factory.mktemp("fsfer-cache")))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """One intra-op thread: the tests' models are tiny, and on a loaded 2-core machine two
    OpenMP threads can thrash (seen: a small index_add 10 us with one thread, 0.1 s with two)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def drawn_texts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[float, float], str, object]]:
    """Every text Pillow draws during the test, as ``(xy, text, font)``, in order."""
    from PIL import ImageDraw

    texts: list[tuple[tuple[float, float], str, object]] = []
    real = ImageDraw.ImageDraw.text

    def recording(self, xy, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        texts.append((tuple(xy), str(text), kwargs.get("font")))
        return real(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recording)
    return texts
