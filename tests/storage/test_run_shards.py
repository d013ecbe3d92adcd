"""Named runs and their shards: one row per name however many sessions race for it."""

from __future__ import annotations

from datetime import timedelta

from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.models import utcnow
from pytest_promptopt.storage.repositories import Owner, missing_shards
from tests.storage.conftest import RunForked


def _join(url: str, name: str) -> int:
    """Join the named run from a fresh handle (another process); its id."""
    database = Database(url)
    try:
        with transaction(database) as repos:
            return repos.shards.join_run(name, "test", {})
    finally:
        database.dispose()


def test_sessions_racing_for_one_name_join_one_run(db: Database, run_forked: RunForked) -> None:
    url = str(db.engine.url)
    ids = run_forked(_join, [(url, "ci-1")] * 6)
    assert len(set(ids)) == 1
    with transaction(db) as repos:
        assert repos.shards.run_id("ci-1") == ids[0]
        assert repos.shards.join_run("ci-2", "test", {}) != ids[0]
        assert len(repos.runs.list_recent()) == 2
        # Unnamed runs stay many: NULL names do not clash.
        repos.runs.create("u1", "test", {})
        repos.runs.create("u2", "test", {})
        assert len(repos.runs.list_recent()) == 4


def test_a_shard_finishes_taken_over_and_counted(db: Database) -> None:
    me = Owner.this_process()
    with transaction(db) as repos:
        run_id = repos.shards.join_run("r", "test", {})
        repos.shards.start(run_id, 1, 2, "s1", me)
        repos.shards.start(run_id, 2, 2, "s2", me)
    with transaction(db) as repos:
        assert repos.shards.beat(run_id, 1, "s1") and not repos.shards.beat(run_id, 1, "other")
        repos.shards.finish(run_id, 1, "s1", "passed", [{"case_id": "c1"}])
        assert not repos.shards.beat(run_id, 1, "s1")  # finished: nothing to renew
        states = repos.shards.for_run(run_id)
    assert [(s.shard, s.status, s.records) for s in states] == [
        (1, "passed", [{"case_id": "c1"}]),
        (2, "running", []),
    ]
    assert missing_shards(states) == [2]
    assert states[1].alive(utcnow()) and not states[1].alive(utcnow() + timedelta(seconds=60))
    # Shard 1 run again by another session: running again, its records dropped.
    with transaction(db) as repos:
        repos.shards.start(run_id, 1, 2, "s1-again", me)
        repos.shards.finish(run_id, 2, "s2", "failed", [])
    with transaction(db) as repos:
        states = repos.shards.for_run(run_id)
        assert repos.shards.joined("r", 1, "s1-again") == run_id
        assert repos.shards.joined("r", 1, "s1") is None
    assert [(s.status, s.records) for s in states] == [("running", []), ("failed", [])]
    assert missing_shards(states) == [1]


def test_named_runs_are_never_swept_as_abandoned(db: Database) -> None:
    with transaction(db) as repos:
        run_id = repos.shards.join_run("r", "test", {})
        unnamed = repos.runs.create("u", "test", {}, Owner("elsewhere", 1))
        for run in (repos.runs.get(run_id), repos.runs.get(unnamed.id)):
            assert run is not None
            run.heartbeat_at = utcnow() - timedelta(hours=1)
    with transaction(db) as repos:
        assert repos.runs.mark_abandoned() == [unnamed.id]
