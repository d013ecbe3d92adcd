"""A fresh schema on the local PostgreSQL server for one test or one session of tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_URL = os.environ.get(
    "PROMPTOPT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def pg_schema(prefix: str = "t") -> Iterator[str]:
    """Yield a database URL whose search_path is a new schema, dropped afterwards.

    Skips without a server; CI sets PROMPTOPT_REQUIRE_POSTGRES=1, which turns the skip into a
    failure.
    """
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        conn = admin.connect()
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL at {PG_URL} did not answer: {str(exc).splitlines()[0]}"
        if os.environ.get("PROMPTOPT_REQUIRE_POSTGRES"):
            pytest.fail(reason + " (PROMPTOPT_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.commit()
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.commit()
        admin.dispose()
