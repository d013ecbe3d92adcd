"""Fixtures of the scale-out tests (xdist, concurrent sessions, PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.support.plugin import ENV_VARS


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key, base URL or promptopt setting leaks in from the outer environment."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
