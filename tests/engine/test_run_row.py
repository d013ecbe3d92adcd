"""The run row: created once on first use, found by session uid, adopted only when free."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_promptopt.engine.run_row import RunRow, sweep_abandoned_runs
from pytest_promptopt.engine.session_db import SessionDatabase
from pytest_promptopt.errors import RunBusyError
from pytest_promptopt.settings import Settings
from pytest_promptopt.storage.repositories import RunRepository


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SessionDatabase]:
    """A session database on a tmp SQLite file that sweeps abandoned runs when opened."""
    db = SessionDatabase(f"sqlite:///{tmp_path}/db.sqlite", on_open=sweep_abandoned_runs)
    yield db
    db.dispose()


def row(database: SessionDatabase, uid: str, *, optimize: bool = False) -> RunRow:
    """A run row of the session `uid`."""
    settings = Settings(rootdir=Path("."), db_url="unused", model="simulated", optimize=optimize)
    return RunRow(database, settings, uid)


def test_the_row_is_created_once_on_first_use_and_found_by_the_session_uid(
    database: SessionDatabase,
) -> None:
    mine = row(database, "uid-1", optimize=True)
    assert not mine.exists() and database.if_open() is None  # nothing made yet
    run_id = mine.id
    assert mine.id == run_id and mine.exists()
    other_process = row(database, "uid-1")  # an xdist controller of the same session
    assert not other_process.exists() and other_process.id_if_created() == run_id
    assert row(database, "uid-2").id_if_created() is None
    with database.get().session_scope() as s:
        run = RunRepository(s).get(run_id)
        assert run is not None and (run.mode, run.status) == ("optimize", "running")
    mine.stop_heartbeat()


def test_finish_sets_the_status_and_a_finished_run_can_be_adopted(
    database: SessionDatabase,
) -> None:
    first = row(database, "uid-1")
    run_id = first.id
    first.stop_heartbeat()
    first.finish(run_id, "interrupted")
    resumed = row(database, "uid-2")
    resumed.adopt(run_id)
    assert resumed.id == run_id and resumed.exists()
    with database.get().session_scope() as s:
        run = RunRepository(s).get(run_id)
        assert run is not None and (run.status, run.session_uid) == ("running", "uid-2")
    resumed.stop_heartbeat()
    with pytest.raises(RuntimeError, match="adopt must come before"):
        resumed.adopt(run_id + 1)


def test_a_run_another_live_session_holds_is_not_adopted(database: SessionDatabase) -> None:
    holder = row(database, "uid-1")
    run_id = holder.id
    taker = row(database, "uid-2")
    with pytest.raises(RunBusyError):
        taker.adopt(run_id)
    assert not taker.exists()
    holder.stop_heartbeat()
