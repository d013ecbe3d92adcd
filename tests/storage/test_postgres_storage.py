"""The storage layer on PostgreSQL: migrations, every repository, and the atomic updates.

Each test gets a fresh schema on the server at 127.0.0.1:5432 (the `pg_url` fixture) and skips
without one, unless PROMPTOPT_REQUIRE_POSTGRES is set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.storage import (
    Database,
    EvaluationRepository,
    LLMCallRepository,
    PromptRepository,
    RunRepository,
    StageResultRepository,
    TestCaseRepository,
    WeaknessRepository,
    migrate,
    transaction,
)


@pytest.mark.postgres
def test_postgres_migration_and_repositories(
    pg_url: str, check_schema: Callable[[str], None], evaluation_row: Callable[..., dict[str, Any]]
) -> None:
    database = Database(pg_url)
    assert database.dialect_name == "postgresql"
    database.ensure_schema()
    Database(pg_url).ensure_schema()
    check_schema(pg_url)
    with database.session_scope() as s:
        run = RunRepository(s).create("pg-uid", "optimize", {"x": [1, 2]})
        assert RunRepository(s).create("pg-uid", "test", {}).id == run.id
        prompts = PromptRepository(s)
        p = prompts.add(run.id, "s", "prompt", stage="given", is_original=True)
        assert prompts.add(run.id, "s", "prompt", stage="given").id == p.id
        prompts.set_scores(p.id, average=0.7)
        ids = TestCaseRepository(s).upsert_many(
            run.id, "s", [{"case_key": "a", "input_message": "x", "spec": {"repeats": 2}}]
        )
        rows = [evaluation_row(run.id, p.id, ids["a"], i, 0.5 + i / 10) for i in range(2)]
        EvaluationRepository(s).add_many(rows)
        EvaluationRepository(s).add_many(rows)
        stage, done = StageResultRepository(s).start(run.id, "s", "quick")
        assert not done
        StageResultRepository(s).complete(stage.id, {"ok": True})
        WeaknessRepository(s).add(run.id, p.id, 1, 0, ["w"], "fix", ["a"])
        LLMCallRepository(s).add(
            {"request_hash": "h", "model": "m", "role": "judge", "request": {}, "response": {},
             "run_id": run.id, "cost_usd": 0.25}
        )  # fmt: skip
        LLMCallRepository(s).add({"request_hash": "h", "model": "m", "role": "judge",
                                  "request": {}, "response": {"new": 1}})  # fmt: skip
        RunRepository(s).finish(run.id, "passed", {"n": 1})
    with database.session_scope() as s:
        evals = EvaluationRepository(s)
        assert evals.count(run.id) == 2
        assert evals.mean_scores(p.id) == {ids["a"]: pytest.approx(0.55)}
        assert StageResultRepository(s).start(run.id, "s", "quick")[1] is True
        assert PromptRepository(s).latest_best("s").id == p.id  # type: ignore[union-attr]
        assert LLMCallRepository(s).stats(run.id)["cost_usd"] == 0.25
        assert LLMCallRepository(s).get("h").response == {}  # type: ignore[union-attr]
        assert WeaknessRepository(s).for_run(run.id, suite="s")[0].prompt.id == p.id
        stored = RunRepository(s).get(run.id)
        assert stored is not None and stored.finished_at is not None
        assert stored.finished_at.utcoffset() == timedelta(0)
    database.dispose()


@pytest.mark.postgres
def test_postgres_newer_revision(pg_url: str) -> None:
    database = Database(pg_url)
    database.ensure_schema()
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'zz_future'"))
    with pytest.raises(DatabaseError, match="pip install -U pytest-promptopt"):
        Database(pg_url).ensure_schema()
    database.dispose()


@pytest.mark.postgres
def test_postgres_concurrent_ensure_schema(
    pg_url: str,
    concurrent_ensure_schema: Callable[[str, int], list[str | None]],
    check_schema: Callable[[str], None],
) -> None:
    assert concurrent_ensure_schema(pg_url, 3) == [migrate.head_revision()] * 3
    check_schema(pg_url)


def _reserve_worker(url: str, attempts: int) -> int:
    """In a forked child: try `attempts` one-call reservations under a cap of 25; count the wins."""
    database = Database(url)
    won = 0
    for _ in range(attempts):
        with transaction(database) as repos:
            won += repos.budget_ledgers.reserve("race", 0.01, max_calls=25, max_usd=None)
    database.dispose()
    return won


@pytest.mark.postgres
def test_postgres_ledger_reservations_race_to_exactly_the_cap(
    pg_url: str, run_forked: Callable[..., list[Any]]
) -> None:
    database = Database(pg_url)
    database.ensure_schema()
    with transaction(database) as repos:
        repos.budget_ledgers.open("race")
    wins = run_forked(_reserve_worker, [(pg_url, 10)] * 4)
    assert sum(wins) == 25
    with transaction(database) as repos:
        totals = repos.budget_ledgers.totals("race")
    assert totals is not None and totals.calls == 25
    assert totals.reserved_usd == pytest.approx(0.25)
    database.dispose()


@pytest.mark.postgres
def test_postgres_claims_and_the_resumable_run(pg_url: str) -> None:
    database = Database(pg_url)
    database.ensure_schema()
    with transaction(database) as repos:
        run = repos.runs.create("pg-old", "optimize", {})
        assert repos.pipeline_claims.claim(run.id, "s", "gw0", 1.0)
        assert not repos.pipeline_claims.claim(run.id, "s", "gw1", 2.0)
        repos.runs.finish(run.id, "interrupted")
        newer = repos.runs.create("pg-new", "optimize", {})
        newer.started_at = run.started_at + timedelta(minutes=1)
    with transaction(database) as repos:
        owner = repos.pipeline_claims.owner(run.id, "s")
        assert owner is not None and owner.worker == "gw0"
        assert repos.pipeline_claims.take_over(owner, "gw1", 3.0)
        assert not repos.pipeline_claims.take_over(owner, "gw2", 4.0)  # the version moved on
        assert repos.runs.latest_resumable(exclude_uid="pg-new") == run.id
        assert repos.runs.latest_resumable(exclude_uid="me") == newer.id
    with transaction(database) as repos:
        assert repos.pipeline_claims.owner(run.id, "s").worker == "gw1"  # type: ignore[union-attr]
    database.dispose()
