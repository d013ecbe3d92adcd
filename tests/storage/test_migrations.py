"""Alembic migrations: the schema they build, its match with the models, upgrades and revisions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.storage import Base, Database, migrate, transaction


def test_migrations_create_every_table_and_column(
    db: Database, check_schema: Callable[[str], None]
) -> None:
    check_schema(db.url)


def test_migration_matches_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_ensure_schema_twice_is_a_noop(
    db: Database, monkeypatch: pytest.MonkeyPatch, check_schema: Callable[[str], None]
) -> None:
    def boom(*args: object) -> None:
        raise AssertionError("ensure_schema should not look at the database again")

    monkeypatch.setattr(migrate, "check_schema", boom)
    monkeypatch.setattr(migrate, "upgrade_to_head", boom)
    db.ensure_schema()
    monkeypatch.undo()
    # A fresh handle on the same file finds it at head and changes nothing.
    other = Database(db.url)
    other.ensure_schema()
    other.ensure_schema()
    assert migrate.current_revision(other.engine) == migrate.head_revision()
    other.dispose()
    check_schema(db.url)


def test_upgrade_to_head_twice_is_harmless(db: Database) -> None:
    migrate.upgrade_to_head(db.engine)
    assert migrate.check_schema(db.engine) is True


def test_newer_revision_asks_to_upgrade_the_plugin(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'zz_9999_future'"))
    fresh = Database(db.url)
    with pytest.raises(
        DatabaseError, match=r"newer pytest-promptopt.*pip install -U pytest-promptopt"
    ):
        fresh.ensure_schema()
    fresh.dispose()


def test_alembic_config_is_built_in_code() -> None:
    config = migrate.alembic_config(None)
    assert Path(config.get_main_option("script_location") or "") == migrate.MIGRATIONS_DIR
    assert config.config_file_name is None
    assert migrate.head_revision() in migrate.known_revisions()


def test_head_revision_constant_matches_the_migrations() -> None:
    assert migrate.head_revision() == migrate.head_revision()


def _alembic_upgrade(url: str, revision: str) -> None:
    """Run the packaged Alembic migrations up to `revision` on a database."""
    from alembic import command

    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), revision)
    engine.dispose()


def test_alembic_migrations_from_scratch_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'alembic.db'}"
    _alembic_upgrade(url, "head")
    database = Database(url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    database.dispose()


def test_a_database_at_an_older_revision_is_upgraded_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _alembic_upgrade(url, "0001_initial")
    database = Database(url)
    assert migrate.current_revision(database.engine) == "0001_initial"
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM budget_ledgers").scalar() == 0
    database.dispose()


def test_concurrent_ensure_schema_on_a_new_file(
    tmp_path: Path,
    concurrent_ensure_schema: Callable[[str, int], list[str | None]],
    check_schema: Callable[[str], None],
) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    assert concurrent_ensure_schema(url, 4) == [migrate.head_revision()] * 4
    check_schema(url)


V2_ROWS = (
    "INSERT INTO optimization_runs (id, session_uid, started_at, status, mode, settings)"
    " VALUES (1, 'uid', '2026-01-01 00:00:00', 'passed', 'test', '{}')",
    "INSERT INTO prompts (id, run_id, suite, prompt_text, prompt_hash, stage, iteration,"
    " is_original_system_prompt, created_at)"
    " VALUES (1, 1, 's', 'Be brief.', 'h', 'given', 0, 1, '2026-01-01 00:00:00')",
    "INSERT INTO test_cases (id, run_id, suite, case_key, input_message, category, stage, spec,"
    " created_at) VALUES (1, 1, 's', 'c', 'hi', 'general', 'given', '{}', '2026-01-01 00:00:00')",
    "INSERT INTO evaluations (run_id, prompt_id, test_case_id, sample, model_response,"
    " overall_score, passed, assertion_results, cached, latency_ms, input_tokens, output_tokens,"
    " cost_usd, created_at)"
    " VALUES (1, 1, 1, 0, 'hello', 0.9, 1, '[]', 0, 1.0, 3, 4, 0.0, '2026-01-01 00:00:00')",
)
CALL = {"id": "t1", "name": "lookup_order", "input": {"order": "7"}}


def test_a_database_at_0002_gains_tool_calls_and_stop_reason_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'v2.db'}"
    _alembic_upgrade(url, "0002_budget_ledgers")
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in V2_ROWS:
            conn.execute(text(statement))
    engine.dispose()
    database = Database(url)
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    with database.engine.connect() as conn:
        old = conn.execute(
            text("SELECT model_response, overall_score, tool_calls, stop_reason FROM evaluations")
        ).all()
    assert [tuple(r) for r in old] == [("hello", 0.9, None, None)]
    new_row = {
        "run_id": 1, "prompt_id": 1, "test_case_id": 1, "sample": 1, "model_response": "",
        "overall_score": 1.0, "passed": True, "tool_calls": [CALL], "stop_reason": "tool_use",
    }  # fmt: skip
    with transaction(database) as repos:
        repos.evaluations.add_many([new_row])
    with transaction(database) as repos:
        stored = [(e.sample, e.tool_calls, e.stop_reason) for e in repos.evaluations.for_prompt(1)]
    assert stored == [(0, None, None), (1, [CALL], "tool_use")]
    database.dispose()


def test_a_database_at_0003_gains_scores_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v3.db'}"
    _alembic_upgrade(url, "0003_evaluation_tool_calls")
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in V2_ROWS:
            conn.execute(text(statement))
    engine.dispose()
    database = Database(url)
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    scores = {"functionality": 0.9, "tone": 1.0}
    new_row = {
        "run_id": 1, "prompt_id": 1, "test_case_id": 1, "sample": 1, "model_response": "",
        "overall_score": 0.95, "passed": True, "functionality": 0.9, "scores": scores,
    }  # fmt: skip
    with transaction(database) as repos:
        repos.evaluations.add_many([new_row])
    with transaction(database) as repos:
        stored = [(e.sample, e.model_response, e.scores) for e in repos.evaluations.for_prompt(1)]
    assert stored == [(0, "hello", None), (1, "", scores)]
    database.dispose()


def test_a_database_at_0004_gains_rate_limits_and_cache_tokens_and_keeps_its_calls(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'v4.db'}"
    _alembic_upgrade(url, "0004_evaluation_scores")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO llm_calls (request_hash, model, role, request, response,"
                " input_tokens, output_tokens, cost_usd, latency_ms, created_at)"
                " VALUES ('h1', 'm', 'target', '{}', '{}', 3, 4, 0.0, 1.0, '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    database = Database(url)
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    with transaction(database) as repos:
        repos.rate_limits.open("uid", 24)
        repos.rate_limits.refused("uid", 0, 12, 0.0)
        old = repos.llm_calls.get("h1")
        assert old is not None
        assert (old.input_tokens, old.cache_write_tokens, old.cache_read_tokens) == (3, None, None)
    with transaction(database) as repos:
        row = repos.rate_limits.get("uid")
    assert row is not None
    assert (row.ceiling, row.current, row.lowest, row.refused) == (24, 12, 12, 1)
    database.dispose()


def test_a_database_at_0004_takes_unknown_costs_and_keeps_known_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v4.db'}"
    _alembic_upgrade(url, "0004_evaluation_scores")
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in V2_ROWS:
            conn.execute(text(statement))
    engine.dispose()
    database = Database(url)
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    unknown = {
        "request_hash": "h", "model": "claude-next-1", "role": "target", "request": {},
        "response": {}, "cost_usd": None,
    }  # fmt: skip
    with transaction(database) as repos:
        repos.llm_calls.add({**unknown, "run_id": 1})
        repos.evaluations.add_many([{
            "run_id": 1, "prompt_id": 1, "test_case_id": 1, "sample": 1, "model_response": "",
            "overall_score": 0.5, "passed": False, "cost_usd": None,
        }])  # fmt: skip
    with database.engine.connect() as conn:
        costs = conn.execute(text("SELECT sample, cost_usd FROM evaluations ORDER BY sample"))
        assert [tuple(r) for r in costs] == [(0, 0.0), (1, None)]
    with transaction(database) as repos:
        assert repos.llm_calls.stats(1)["cost_usd"] is None  # unknown, not a partial sum
    database.dispose()


def test_a_database_at_0004_gains_the_batches_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v4.db'}"
    _alembic_upgrade(url, "0004_evaluation_scores")
    database = Database(url)
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    with transaction(database) as repos:
        repos.batches.add("msgbatch_1", "claude-haiku-4-5", ["a" * 64, "b" * 64], run_id=None)
    with transaction(database) as repos:
        assert repos.batches.unfinished() == [
            ("msgbatch_1", "claude-haiku-4-5", ["a" * 64, "b" * 64])
        ]
        repos.batches.collected("msgbatch_1")
    with transaction(database) as repos:
        assert repos.batches.unfinished() == []
    database.dispose()
