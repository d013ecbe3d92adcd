"""Every row of the oldest supported schema survives the migration chain to head.

The old database is built by the chain itself (upgrade to its first revision), filled with rows
in every table that schema has (values made from each column's type), then upgraded one
revision at a time to whatever head is: a migration added later is covered without editing this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    select,
)

from pytest_promptopt.storage import Database, migrate

ROWS_PER_TABLE = 3


def _chain() -> list[str]:
    """The revisions from the first to head, in upgrade order."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def _upgrade(url: str, revision: str) -> None:
    """Upgrade on the plugin's own engine (SQLite: foreign keys on, as every session has them)."""
    from alembic import command

    database = Database(url)
    with database.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), revision)
    database.dispose()


def _value(table: Table, column: Column[Any], n: int) -> Any:
    """A value of the column's type for row `n` (1-based), distinct per row and table."""
    if column.foreign_keys:
        return n  # every table has rows 1..N, so row n of a child refers to row n of its parent
    kind = column.type
    if isinstance(kind, Boolean):
        return n % 2 == 0
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, (Float, Numeric)):
        return n + 0.25
    if isinstance(kind, DateTime):
        return dt.datetime(2026, 1, n, 12, 0, tzinfo=dt.timezone.utc)
    if isinstance(kind, Date):
        return dt.date(2026, 1, n)
    if isinstance(kind, JSON):
        return {"table": table.name, "row": n, "list": [n, "x"]}
    if isinstance(kind, (String, Text)):
        length = getattr(kind, "length", None) or 64
        return f"{table.name[:8]}-{column.name[:8]}-{n}"[:length]
    raise AssertionError(f"no sample value for {table.name}.{column.name} ({kind!r})")


def _fill(url: str) -> dict[str, list[dict[str, Any]]]:
    """Insert ROWS_PER_TABLE rows into every table of the database; return what was written."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in meta.sorted_tables:
            if table.name == migrate.VERSION_TABLE:
                continue
            rows = [
                {c.name: _value(table, c, n) for c in table.columns}
                for n in range(1, ROWS_PER_TABLE + 1)
            ]
            conn.execute(table.insert(), rows)
            written[table.name] = rows
    engine.dispose()
    return written


def _read(url: str, table_name: str, columns: list[str]) -> list[dict[str, Any]]:
    engine = create_engine(url)
    meta = MetaData()
    table = Table(table_name, meta, autoload_with=engine)
    key = [table.c[c] for c in columns if table.c[c].primary_key] or [table.c[columns[0]]]
    with engine.connect() as conn:
        rows = conn.execute(select(*[table.c[c] for c in columns]).order_by(*key)).mappings()
        result = [dict(r) for r in rows]
    engine.dispose()
    return result


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.replace(tzinfo=None) == b.astimezone(dt.timezone.utc).replace(tzinfo=None) or (
            a.replace(tzinfo=None) == b.replace(tzinfo=None)
        )
    return bool(a == b)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'oldest.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def test_the_chain_walks_from_the_first_revision_to_head() -> None:
    chain = _chain()
    assert chain[0] == "0001_initial" and chain[-1] == migrate.head_revision()
    assert len(chain) == len(migrate.known_revisions())


def test_every_row_of_the_oldest_schema_survives_every_migration_to_head(empty_url: str) -> None:
    chain = _chain()
    _upgrade(empty_url, chain[0])
    written = _fill(empty_url)
    assert "optimization_runs" in written and "evaluations" in written and "llm_calls" in written
    for revision in chain[1:]:
        _upgrade(empty_url, revision)  # one step at a time: a loss is pinned to its migration
        for table, rows in written.items():
            stored = _read(empty_url, table, list(rows[0]))
            assert len(stored) == len(rows), f"{revision} lost rows of {table}"
            for old, new in zip(rows, stored, strict=True):
                diff = {k: (v, new[k]) for k, v in old.items() if not _same(v, new[k])}
                assert not diff, f"{revision} changed {table}: {diff}"
    database = Database(empty_url)
    database.ensure_schema()  # the plugin finds it at head and is content
    assert database.current_revision() == migrate.head_revision()
    database.dispose()
