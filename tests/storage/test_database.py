"""The `Database` handle: SQLite setup, errors users can fix, sessions, forks and insert_ignore."""

from __future__ import annotations

import os
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.storage import (
    Database,
    Evaluation,
    EvaluationRepository,
    LLMCall,
    OptimizationRun,
    Prompt,
    PromptRepository,
    RunRepository,
    TestCaseRepository,
    insert_ignore,
)
from pytest_promptopt.storage import TestCase as CaseRow
from pytest_promptopt.storage.database import _use_wal, is_driver_error


def test_sqlite_pragmas_on_every_connection(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_creates_parent_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.db"
    database = Database(f"sqlite:///{target}")
    database.ensure_schema()
    assert target.exists()
    database.dispose()


@pytest.mark.parametrize(
    "content", [os.urandom(4096), b"just some notes\n" * 200], ids=["random", "text"]
)
def test_garbage_file_names_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    database = Database(f"sqlite:///{path}")
    with pytest.raises(DatabaseError, match="not a pytest-promptopt database") as info:
        database.ensure_schema()
    assert str(path) in str(info.value)
    assert "--promptopt-db" in str(info.value)
    database.dispose()


def test_database_of_another_application(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"))
    engine.dispose()
    database = Database(f"sqlite:///{path}")
    with pytest.raises(DatabaseError, match="not a pytest-promptopt database") as info:
        database.ensure_schema()
    assert str(path) in str(info.value)
    database.dispose()


def test_other_application_with_its_own_alembic(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('abc123')"))
        conn.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    database = Database(f"sqlite:///{path}")
    with pytest.raises(DatabaseError, match="not a pytest-promptopt database"):
        database.ensure_schema()
    database.dispose()


def test_url_for_display_and_dialect() -> None:
    database = Database("postgresql+psycopg://user:s3cret@db.example/promptopt")
    assert "s3cret" not in database.url_for_display
    assert "***" in database.url_for_display
    assert database.dialect_name == "postgresql"
    assert Database("sqlite:///x.db").dialect_name == "sqlite"
    assert "s3cret" not in repr(database)


def test_session_scope_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session_scope() as s:
        RunRepository(s).create("uid-rollback", "test", {})
        raise RuntimeError("boom")
    with db.session_scope() as s:
        assert RunRepository(s).by_uid("uid-rollback") is None


def test_is_driver_error_tells_database_errors_from_others() -> None:
    assert is_driver_error(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    assert not is_driver_error(ValueError("not a database error"))
    assert not is_driver_error(DatabaseError("the plugin's own error, already readable"))


def _child_engine(database: Database) -> tuple[int, int, int]:
    """In a forked child: its pid, its engine's id and the number of runs it reads."""
    with database.session_scope() as s:
        count = s.scalar(select(func.count()).select_from(OptimizationRun)) or 0
    return os.getpid(), id(database.engine), count


def test_engine_is_recreated_after_fork(db: Database, run_forked: Callable[..., list[Any]]) -> None:
    parent_engine = db.engine
    ((pid, engine_id, count),) = run_forked(_child_engine, [(db,)])
    assert pid != os.getpid()
    assert engine_id != id(parent_engine)
    assert count == 0
    assert db.engine is parent_engine
    with db.session_scope() as s:  # the parent's pool still works
        assert s.scalar(select(func.count()).select_from(OptimizationRun)) == 0


def test_database_pickles_as_its_url(db: Database) -> None:
    db.engine  # noqa: B018
    clone = pickle.loads(pickle.dumps(db))
    assert clone.url == db.url and clone._engine is None
    clone.ensure_schema()
    clone.dispose()


def test_insert_ignore_twice_keeps_one_row(db: Database) -> None:
    row = {"request_hash": "h" * 64, "model": "m", "role": "target", "request": {}, "response": {}}
    for _ in range(2):
        with db.session_scope() as s:
            insert_ignore(s, LLMCall, [row, dict(row)], ["request_hash"])
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(LLMCall)) == 1


def test_insert_ignore_accepts_rows_with_different_keys(
    db: Database, seeded: tuple[int, int, int]
) -> None:
    run_id, _, _ = seeded
    rows: list[dict[str, Any]] = [
        {"run_id": run_id, "suite": "s", "case_key": "a", "input_message": "x"},
        {"run_id": run_id, "suite": "s", "case_key": "b", "input_message": "y", "category": "c"},
    ]
    with db.session_scope() as s:
        insert_ignore(s, CaseRow, rows, ["run_id", "suite", "case_key"])
        insert_ignore(s, LLMCall, [], ["request_hash"])
    with db.session_scope() as s:
        cases = TestCaseRepository(s).for_suite(run_id, "s")
    assert [(c.case_key, c.category) for c in cases] == [("a", "general"), ("b", "c")]


def test_foreign_keys_are_enforced_and_cascade(
    db: Database, seeded: tuple[int, int, int], evaluation_row: Callable[..., dict[str, Any]]
) -> None:
    run_id, prompt_id, case_id = seeded
    with pytest.raises(Exception, match="FOREIGN KEY"), db.session_scope() as s:
        PromptRepository(s).add(9999, "suite", "orphan", stage="given")
    with db.session_scope() as s:
        EvaluationRepository(s).add_many([evaluation_row(run_id, prompt_id, case_id, 0, 1.0)])
    with db.session_scope() as s:
        s.execute(text("DELETE FROM optimization_runs WHERE id = :id"), {"id": run_id})
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Prompt)) == 0
        assert s.scalar(select(func.count()).select_from(Evaluation)) == 0


def _insert_worker(
    database: Database, make_row: Callable[..., dict[str, Any]], worker: int, ids: tuple[int, ...]
) -> int:
    """In a forked child: 100 read-then-write transactions on one SQLite file; return the pid."""
    for i in range(100):
        with database.session_scope() as s:
            # Read, then write in the same transaction: with a deferred BEGIN this is the
            # pattern that fails at once with "database is locked" under contention.
            EvaluationRepository(s).done_keys(ids[1])
            EvaluationRepository(s).add_many([make_row(*ids, worker * 100 + i, 0.5)])
    return os.getpid()


def test_concurrent_writers_do_not_lock(
    db: Database,
    seeded: tuple[int, int, int],
    run_forked: Callable[..., list[Any]],
    evaluation_row: Callable[..., dict[str, Any]],
) -> None:
    run_id, prompt_id, _ = seeded
    # The parent's engine exists already: each forked child must build its own.
    pids = run_forked(_insert_worker, [(db, evaluation_row, w, seeded) for w in range(4)])
    assert len(set(pids)) == 4 and os.getpid() not in pids
    with db.session_scope() as s:
        evals = EvaluationRepository(s)
        assert evals.count(run_id) == 400
        assert len(evals.done_keys(prompt_id)) == 400


class _FlakyCursor:
    """A cursor whose switch to WAL meets a lock `locked` times before it succeeds."""

    def __init__(self, locked: int, mode: str = "delete") -> None:
        self.locked, self.mode, self.sql = locked, mode, []

    def execute(self, sql: str) -> _FlakyCursor:
        self.sql.append(sql)
        if sql == "PRAGMA journal_mode=WAL":
            if self.locked:
                self.locked -= 1
                raise sqlite3.OperationalError("database is locked")
            self.mode = "wal"
        return self

    def fetchone(self) -> tuple[str]:
        return (self.mode,)


def test_switching_to_wal_waits_out_a_lock_sqlite_reports_at_once() -> None:
    cursor = _FlakyCursor(locked=3)
    _use_wal(cursor)
    assert cursor.mode == "wal" and cursor.sql.count("PRAGMA journal_mode=WAL") == 4


def test_a_database_already_in_wal_mode_is_not_switched_again() -> None:
    cursor = _FlakyCursor(locked=5, mode="wal")
    _use_wal(cursor)
    assert cursor.sql == ["PRAGMA journal_mode"]


def test_other_sqlite_errors_are_not_retried() -> None:
    class Broken(_FlakyCursor):
        def execute(self, sql: str) -> _FlakyCursor:
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _use_wal(Broken(locked=0))
