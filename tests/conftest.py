"""Shared fixtures: built-in data are cached once per session in a temporary LIEGAN_DATA folder."""

import pytest


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LIEGAN_DATA", str(tmp_path_factory.getbasetemp() / "liegan-data"))
    monkeypatch.setenv("LIEGAN_CACHE", str(tmp_path_factory.getbasetemp() / "liegan-cache"))
