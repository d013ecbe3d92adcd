"""A run's life: heartbeat, owner, abandoned runs, and the resume claim (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.models import OptimizationRun, utcnow
from pytest_promptopt.storage.repositories import STALE_S, Holder, Owner, pid_alive


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    return proc.pid


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database on SQLite, and on PostgreSQL (its own schema)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = Database(url)
    database.ensure_schema()
    yield database
    database.dispose()


def _status(db: Database, run_id: int) -> str:
    with transaction(db) as repos:
        run = repos.runs.get(run_id)
        assert run is not None
        return run.status


def test_a_new_run_records_its_owner_and_a_heartbeat(any_db: Database) -> None:
    with transaction(any_db) as repos:
        run = repos.runs.create("uid", "test", {})
    me = Owner.this_process()
    assert (run.host, run.pid) == (me.host, me.pid)
    assert run.heartbeat_at is not None and run.version == 0


def test_a_run_whose_process_is_gone_is_abandoned_at_once(any_db: Database) -> None:
    with transaction(any_db) as repos:
        dead = repos.runs.create("dead", "test", {}, Owner(Owner.this_process().host, _dead_pid()))
        alive = repos.runs.create("alive", "test", {})
        done = repos.runs.create("done", "test", {}, Owner("h", _dead_pid()))
        repos.runs.finish(done.id, "passed")
    with transaction(any_db) as repos:
        assert repos.runs.mark_abandoned() == [dead.id]
    assert _status(any_db, dead.id) == "abandoned"
    assert _status(any_db, alive.id) == "running"
    assert _status(any_db, done.id) == "passed"


def test_a_run_on_another_host_is_abandoned_only_when_its_heartbeat_is_stale(
    any_db: Database,
) -> None:
    with transaction(any_db) as repos:
        fresh = repos.runs.create("fresh", "test", {}, Owner("elsewhere", 1))
        stale = repos.runs.create("stale", "test", {}, Owner("elsewhere", 1))
        row = repos.session.get_one(OptimizationRun, stale.id)
        row.heartbeat_at = utcnow() - timedelta(seconds=STALE_S + 5)
    with transaction(any_db) as repos:
        assert repos.runs.mark_abandoned() == [stale.id]
    assert _status(any_db, fresh.id) == "running"
    # its owner was only slow: its next beat makes it running again
    with transaction(any_db) as repos:
        assert repos.runs.beat(stale.id, "stale")
        assert not repos.runs.beat(stale.id, "someone-else")
    assert _status(any_db, stale.id) == "running"


def test_resume_claims_an_abandoned_run_and_refuses_a_live_one(any_db: Database) -> None:
    with transaction(any_db) as repos:
        run = repos.runs.create("first", "optimize", {}, Owner("elsewhere", 7))
    with transaction(any_db) as repos:
        held = repos.runs.claim(run.id, "second", Owner.this_process())
    assert isinstance(held, Holder)
    assert (held.run_id, held.status, held.host, held.pid) == (run.id, "running", "elsewhere", 7)
    assert "host elsewhere (pid 7)" in held.describe() and "last heartbeat" in held.describe()
    with transaction(any_db) as repos:
        repos.runs.finish(run.id, "interrupted")
    with transaction(any_db) as repos:
        taken = repos.runs.claim(run.id, "second", Owner.this_process())
    assert isinstance(taken, OptimizationRun)
    assert (taken.session_uid, taken.status, taken.version) == ("second", "running", 1)
    assert taken.finished_at is None and taken.pid == Owner.this_process().pid
    # the first session, still around, no longer owns it
    with transaction(any_db) as repos:
        assert not repos.runs.beat(run.id, "first")


def test_of_concurrent_resumes_of_one_run_exactly_one_wins(any_db: Database) -> None:
    with transaction(any_db) as repos:
        run = repos.runs.create("killed", "optimize", {}, Owner("h", 1))
        repos.runs.finish(run.id, "interrupted")
    start = threading.Barrier(4)
    results: list[object] = []

    def resume(n: int) -> None:
        start.wait()
        with transaction(any_db) as repos:
            results.append(repos.runs.claim(run.id, f"resume-{n}", Owner.this_process()))

    threads = [threading.Thread(target=resume, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if isinstance(r, OptimizationRun)]
    assert len(results) == 4 and len(winners) == 1, results
    assert all(isinstance(r, Holder) for r in results if r is not winners[0])
    with transaction(any_db) as repos:
        stored = repos.runs.get(run.id)
        assert stored is not None and stored.version == 1
        assert stored.session_uid == winners[0].session_uid


def test_unfinished_statuses_and_the_newest_unfinished_optimize_runs(db: Database) -> None:
    with transaction(db) as repos:
        finished = repos.runs.create("f", "optimize", {})
        repos.prompts.add(finished.id, "s", "p", stage="given")
        repos.runs.finish(finished.id, "passed")
        gone = Owner(Owner.this_process().host, _dead_pid())
        later = repos.runs.create("l", "optimize", {}, gone)
        repos.prompts.add(later.id, "s", "p", stage="given")
    with transaction(db) as repos:
        repos.runs.mark_abandoned()
    with transaction(db) as repos:
        found = repos.runs.unfinished_optimize_runs("s", after=finished.id)
        assert [(r.id, r.status) for r in found] == [(later.id, "abandoned")]
        assert repos.runs.unfinished_optimize_runs("s", after=later.id) == []
        assert repos.runs.latest_resumable(exclude_uid="x") == later.id
