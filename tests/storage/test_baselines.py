"""`baselines`: blessing runs per suite; the newest blessing of a suite is its baseline."""

from __future__ import annotations

from pytest_promptopt.storage import Database, transaction


def test_the_newest_blessing_of_a_suite_is_its_baseline(db: Database) -> None:
    with transaction(db) as repos:
        first = repos.runs.create("uid-1", "test", {}).id
        second = repos.runs.create("uid-2", "test", {}).id
        rows = repos.baselines.bless(first, ["support", "sql"])
        assert [r.suite for r in rows] == ["support", "sql"] and rows[0].blessed_at is not None
    with transaction(db) as repos:
        repos.baselines.bless(second, ["support"])
    with transaction(db) as repos:
        current = {b.suite: b.run_id for b in repos.baselines.current()}
        assert current == {"sql": first, "support": second}
        found = repos.baselines.for_suite("support")
        assert found is not None and found.run_id == second
        assert repos.baselines.for_suite("other") is None
