"""Shared fixtures: every test gets its own image cache folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FSFER_CACHE", str(tmp_path_factory.mktemp("fsfer-cache")))
