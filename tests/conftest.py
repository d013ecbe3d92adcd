"""Shared fixtures of the plugin's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pg_schema import PG_URL as PG_URL
from tests.support.pg_schema import pg_schema


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL server, dropped afterwards; skips without a server.

    CI sets PROMPTOPT_REQUIRE_POSTGRES=1, which turns the skip into a failure.
    """
    with pg_schema("t") as url:
        yield url
