"""The sync's HTTP client takes its settings from the environment alone: FetchSettings has
no defaults of its own that could drift from the FONCIER_SYNC_* settings."""

from __future__ import annotations

import dataclasses

import pytest

from app.settings import SyncSettings
from geo.ingest.fetch import FetchSettings


def test_fetch_settings_are_the_sync_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FONCIER_SYNC_TIMEOUT_S", "7.5")
    monkeypatch.setenv("FONCIER_SYNC_MAX_RATIO", "80")
    settings = SyncSettings()
    fetch = settings.fetch_settings()
    assert (fetch.timeout_s, fetch.max_ratio) == (7.5, 80)
    for f in dataclasses.fields(FetchSettings):
        assert f.default is dataclasses.MISSING, f.name
        assert getattr(fetch, f.name) == getattr(settings, f"sync_{f.name}")
