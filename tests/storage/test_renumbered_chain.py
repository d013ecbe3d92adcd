"""A database stamped by the chain before its renumbering upgrades to head and keeps its rows."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, create_engine, select, text

from pytest_promptopt.storage import Database, migrate

# SQL dumps of SQLite databases made by the old chain itself (see each file's first lines).
DUMPS = sorted((Path(__file__).parent / "data").glob("chain_5518d44_*.sql"))
RUN = {
    "id": 7, "session_uid": "old-chain", "status": "passed", "mode": "test", "settings": {},
    "started_at": dt.datetime(2026, 1, 1, 12, 0),
}  # fmt: skip


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but alembic_version, ordered by primary key."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        rows = {
            table.name: [
                dict(r)
                for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            ]
            for table in meta.sorted_tables
            if table.name != migrate.VERSION_TABLE
        }
    engine.dispose()
    return rows


def _stamp(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        stamp = conn.execute(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).scalar()
    engine.dispose()
    return stamp


def test_two_dumps_of_the_old_chain_are_committed() -> None:
    assert [p.stem for p in DUMPS] == [
        "chain_5518d44_promptopt_0008",  # mid-chain, an id the new chain gives another migration
        "chain_5518d44_promptopt_0012",  # the old head
    ]


@pytest.mark.parametrize("dump", DUMPS, ids=lambda p: p.stem.removeprefix("chain_5518d44_"))
def test_a_database_of_the_old_chain_upgrades_and_keeps_every_row(
    dump: Path, tmp_path: Path, check_schema: Callable[[str], None]
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        con.executescript(dump.read_text(encoding="utf-8"))
    con.close()
    url = f"sqlite:///{path}"
    assert _stamp(url) in migrate.RENAMED_REVISIONS
    before = _rows(url)
    assert len(before) >= 10 and all(len(rows) == 2 for rows in before.values())
    database = Database(url)
    database.ensure_schema()
    assert database.current_revision() == migrate.head_revision()
    database.dispose()
    after = _rows(url)
    for table, rows in before.items():
        kept = [{k: row[k] for k in rows[0]} for row in after[table]]
        assert kept == rows, table
    check_schema(url)  # every table and column of head, as a fresh database has them


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'renamed.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.mark.parametrize(("old", "new"), sorted(migrate.RENAMED_REVISIONS.items()))
def test_every_old_id_is_restamped_with_its_migration_and_upgraded(
    old: str, new: str, empty_url: str
) -> None:
    from alembic import command

    database = Database(empty_url)
    with database.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), new)  # the schema the old id stood for
        runs = Table("optimization_runs", MetaData(), autoload_with=conn)
        conn.execute(runs.insert(), [RUN])
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = :old"), {"old": old})
    database.dispose()
    assert _stamp(empty_url) == old
    database = Database(empty_url)
    database.ensure_schema()
    assert database.current_revision() == migrate.head_revision()
    database.dispose()
    kept = [{k: row[k] for k in RUN} for row in _rows(empty_url)["optimization_runs"]]
    assert [{**row, "started_at": row["started_at"].replace(tzinfo=None)} for row in kept] == [RUN]
