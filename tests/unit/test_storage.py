"""Storage layer: migrations, the Database handle, insert_ignore and every repository."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.storage import (
    Base,
    Database,
    Evaluation,
    EvaluationRepository,
    LLMCall,
    LLMCallRepository,
    OptimizationRun,
    Prompt,
    PromptRepository,
    RunRepository,
    StageResultRepository,
    TestCaseRepository,
    WeaknessRepository,
    insert_ignore,
    migrate,
    prompt_hash,
)
from pytest_promptopt.storage import TestCase as CaseRow

EXPECTED_COLUMNS: dict[str, set[str]] = {
    "optimization_runs": {
        "id", "session_uid", "started_at", "finished_at", "status", "mode", "settings", "summary",
    },
    "prompts": {
        "id", "run_id", "suite", "prompt_text", "prompt_hash", "stage", "strategy",
        "parent_prompt_id", "track_id", "iteration", "is_original_system_prompt",
        "quick_score", "rigorous_score", "average_score", "created_at",
    },
    "test_cases": {
        "id", "run_id", "suite", "case_key", "input_message", "expected_behavior", "category",
        "stage", "spec", "created_at",
    },
    "evaluations": {
        "id", "run_id", "prompt_id", "test_case_id", "sample", "model_response",
        "functionality", "safety", "consistency", "edge_case_handling", "overall_score",
        "passed", "reasoning", "assertion_results", "cached", "latency_ms", "input_tokens",
        "output_tokens", "cost_usd", "created_at",
    },
    "stage_results": {
        "id", "run_id", "suite", "stage", "status", "started_at", "finished_at", "summary",
    },
    "weakness_analyses": {
        "id", "run_id", "prompt_id", "track_id", "iteration", "weaknesses", "suggestions",
        "case_keys", "created_at",
    },
    "llm_calls": {
        "id", "request_hash", "model", "role", "request", "response", "input_tokens",
        "output_tokens", "cost_usd", "latency_ms", "run_id", "created_at",
    },
    "budget_ledgers": {"session_uid", "calls", "spent_usd", "reserved_usd"},
}  # fmt: skip

EXPECTED_UNIQUES: dict[str, set[tuple[str, ...]]] = {
    "optimization_runs": {("session_uid",)},
    "prompts": {("run_id", "suite", "prompt_hash")},
    "test_cases": {("run_id", "suite", "case_key")},
    "evaluations": {("prompt_id", "test_case_id", "sample")},
    "stage_results": {("run_id", "suite", "stage")},
    "weakness_analyses": {("run_id", "prompt_id")},
    "llm_calls": {("request_hash",)},
    "budget_ledgers": set(),
}

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'sub' / 'promptopt.db'}")
    database.ensure_schema()
    yield database
    database.dispose()


def _seed(db: Database, suite: str = "support") -> tuple[int, int, int]:
    """Create a run, a prompt and one case; return their ids."""
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-seed", "optimize", {"k": 1})
        prompt = PromptRepository(s).add(run.id, suite, "You are helpful.", stage="given")
        ids = TestCaseRepository(s).upsert_many(
            run.id, suite, [{"case_key": "c1", "input_message": "hi"}]
        )
        return run.id, prompt.id, ids["c1"]


def _evaluation(
    run_id: int, prompt_id: int, case_id: int, sample: int, score: float
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "prompt_id": prompt_id,
        "test_case_id": case_id,
        "sample": sample,
        "model_response": f"answer {sample}",
        "overall_score": score,
        "passed": score >= 0.5,
    }


# --- migrations and schema -------------------------------------------------------------


def _check_schema(engine_url: str, **kwargs: Any) -> None:
    engine = create_engine(engine_url, **kwargs)
    try:
        insp = inspect(engine)
        tables = set(insp.get_table_names())
        assert set(EXPECTED_COLUMNS) | {"alembic_version"} == tables
        for table, columns in EXPECTED_COLUMNS.items():
            assert {c["name"] for c in insp.get_columns(table)} == columns, table
            uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
            assert uniques == EXPECTED_UNIQUES[table], table
        assert {i["name"] for i in insp.get_indexes("evaluations")} >= {"ix_evaluations_run_id"}
        fks = {fk["name"] for fk in insp.get_foreign_keys("evaluations")}
        assert "fk_evaluations_prompt_id_prompts" in fks
        assert insp.get_foreign_keys("llm_calls") == []
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == migrate.head_revision()
    finally:
        engine.dispose()


def test_migrations_create_every_table_and_column(db: Database) -> None:
    _check_schema(db.url)


def test_migration_matches_models(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


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


def test_ensure_schema_twice_is_a_noop(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
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
    _check_schema(db.url)


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


def test_alembic_config_is_built_in_code() -> None:
    config = migrate.alembic_config(None)
    assert Path(config.get_main_option("script_location") or "") == migrate.MIGRATIONS_DIR
    assert config.config_file_name is None
    assert migrate.head_revision() in migrate.known_revisions()


def test_session_scope_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session_scope() as s:
        RunRepository(s).create("uid-rollback", "test", {})
        raise RuntimeError("boom")
    with db.session_scope() as s:
        assert RunRepository(s).by_uid("uid-rollback") is None


def _run_forked(target: Callable[..., Any], argsets: list[tuple[Any, ...]]) -> list[Any]:
    """Run `target(*args)` in forked processes (args are inherited, not pickled); return results."""
    ctx = multiprocessing.get_context("fork")
    results: Any = ctx.Queue()

    def main(*args: Any) -> None:
        try:
            results.put(("ok", target(*args)))
        except BaseException as exc:
            results.put(("error", f"{type(exc).__name__}: {exc}"))

    procs = [ctx.Process(target=main, args=args) for args in argsets]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    errors = [value for kind, value in outcomes if kind == "error"]
    assert errors == []
    return [value for _, value in outcomes]


def _child_engine(database: Database) -> tuple[int, int, int]:
    with database.session_scope() as s:
        count = s.scalar(select(func.count()).select_from(OptimizationRun)) or 0
    return os.getpid(), id(database.engine), count


def test_engine_is_recreated_after_fork(db: Database) -> None:
    parent_engine = db.engine
    ((pid, engine_id, count),) = _run_forked(_child_engine, [(db,)])
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


# --- insert_ignore and constraints -----------------------------------------------------


def test_insert_ignore_twice_keeps_one_row(db: Database) -> None:
    row = {"request_hash": "h" * 64, "model": "m", "role": "target", "request": {}, "response": {}}
    for _ in range(2):
        with db.session_scope() as s:
            insert_ignore(s, LLMCall, [row, dict(row)], ["request_hash"])
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(LLMCall)) == 1


def test_insert_ignore_accepts_rows_with_different_keys(db: Database) -> None:
    run_id, _, _ = _seed(db)
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


def test_foreign_keys_are_enforced_and_cascade(db: Database) -> None:
    run_id, prompt_id, case_id = _seed(db)
    with pytest.raises(Exception, match="FOREIGN KEY"), db.session_scope() as s:
        PromptRepository(s).add(9999, "suite", "orphan", stage="given")
    with db.session_scope() as s:
        EvaluationRepository(s).add_many([_evaluation(run_id, prompt_id, case_id, 0, 1.0)])
    with db.session_scope() as s:
        s.execute(text("DELETE FROM optimization_runs WHERE id = :id"), {"id": run_id})
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Prompt)) == 0
        assert s.scalar(select(func.count()).select_from(Evaluation)) == 0


# --- repositories ----------------------------------------------------------------------


def test_run_repository(db: Database) -> None:
    with db.session_scope() as s:
        runs = RunRepository(s)
        first = runs.create("uid-1", "test", {"model": "m"})
        again = runs.create("uid-1", "optimize", {"other": True})
        assert again.id == first.id
        assert again.mode == "test" and again.settings == {"model": "m"}
        assert first.status == "running" and first.finished_at is None
        assert first.started_at.tzinfo is not None
        second = runs.create("uid-2", "optimize", {})
        second.started_at = first.started_at + timedelta(seconds=5)
    with db.session_scope() as s:
        runs = RunRepository(s)
        assert runs.get(first.id) is not None and runs.get(12345) is None
        assert runs.by_uid("uid-2") is not None and runs.by_uid("nope") is None
        assert runs.latest() is not None and runs.latest().id == second.id  # type: ignore[union-attr]
        assert runs.latest(mode="test").id == first.id  # type: ignore[union-attr]
        assert runs.latest(statuses=["passed"]) is None
        finished = runs.finish(first.id, "passed", {"cases": 3})
        assert finished.status == "passed" and finished.summary == {"cases": 3}
        assert finished.finished_at is not None
        assert finished.finished_at.tzinfo == timezone.utc
        runs.finish(second.id, "interrupted")
    with db.session_scope() as s:
        runs = RunRepository(s)
        assert runs.get(second.id).summary is None  # type: ignore[union-attr]
        assert runs.latest(statuses=["passed", "failed"]).id == first.id  # type: ignore[union-attr]
        assert [r.session_uid for r in runs.list_recent()] == ["uid-2", "uid-1"]
        assert [r.session_uid for r in runs.list_recent(limit=1)] == ["uid-2"]
        stored = runs.get(first.id)
        assert stored is not None and stored.finished_at is not None
        assert stored.finished_at.tzinfo == timezone.utc


def test_prompt_repository(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-p", "optimize", {})
        prompts = PromptRepository(s)
        root = prompts.add(run.id, "s", "root text", stage="given", is_original=True)
        dup = prompts.add(run.id, "s", "root text", stage="refined", strategy="x")
        assert dup.id == root.id and dup.stage == "given" and dup.is_original_system_prompt
        assert root.prompt_hash == prompt_hash("root text") and len(root.prompt_hash) == 64
        other_suite = prompts.add(run.id, "t", "root text", stage="given")
        assert other_suite.id != root.id
        child = prompts.add(
            run.id,
            "s",
            "child",
            stage="initial",
            strategy="cot",
            parent_prompt_id=root.id,
            track_id=1,
        )
        grandchild = prompts.add(
            run.id,
            "s",
            "grandchild",
            stage="refined",
            parent_prompt_id=child.id,
            track_id=1,
            iteration=2,
        )
        assert grandchild.iteration == 2 and child.iteration == 0
        assert prompts.best(run.id, "s") is None  # nothing scored yet
        prompts.set_scores(root.id, quick=0.5)
        prompts.set_scores(root.id, average=0.8)
        prompts.set_scores(child.id, quick=0.9, rigorous=0.7, average=0.8)
        prompts.set_scores(grandchild.id, average=0.6)
    with db.session_scope() as s:
        prompts = PromptRepository(s)
        stored = prompts.get(root.id)
        assert stored is not None
        assert (stored.quick_score, stored.rigorous_score, stored.average_score) == (0.5, None, 0.8)
        assert prompts.get(999) is None
        assert [p.prompt_text for p in prompts.for_suite(run.id, "s")] == [
            "root text",
            "child",
            "grandchild",
        ]
        assert [p.id for p in prompts.for_suite(run.id, "s", stage="refined")] == [grandchild.id]
        # Tie at 0.8: the original wins.
        best = prompts.best(run.id, "s")
        assert best is not None and best.id == root.id
        prompts.set_scores(child.id, average=0.85)
        assert prompts.best(run.id, "s").id == child.id  # type: ignore[union-attr]
        assert [p.id for p in prompts.lineage(grandchild.id)] == [root.id, child.id, grandchild.id]
        assert [p.id for p in prompts.lineage(root.id)] == [root.id]
        assert prompts.lineage(424242) == []


def test_prompt_best_ties_without_original_pick_lowest_id(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-tie", "optimize", {})
        prompts = PromptRepository(s)
        a = prompts.add(run.id, "s", "a", stage="initial")
        b = prompts.add(run.id, "s", "b", stage="initial")
        prompts.set_scores(b.id, average=0.7)
        prompts.set_scores(a.id, average=0.7)
        assert prompts.best(run.id, "s").id == a.id  # type: ignore[union-attr]


def test_prompt_latest_best_across_runs(db: Database) -> None:
    with db.session_scope() as s:
        runs, prompts = RunRepository(s), PromptRepository(s)
        old = runs.create("old", "optimize", {})
        p_old = prompts.add(old.id, "s", "old best", stage="refined")
        prompts.set_scores(p_old.id, average=0.9)
        runs.finish(old.id, "passed")
        new = runs.create("new", "optimize", {})
        new.started_at = old.started_at + timedelta(minutes=1)
        p_new_a = prompts.add(new.id, "s", "new a", stage="refined")
        p_new_b = prompts.add(new.id, "s", "new b", stage="refined")
        prompts.set_scores(p_new_a.id, average=0.4)
        prompts.set_scores(p_new_b.id, average=0.6)
        # Still running: not considered yet.
        assert prompts.latest_best("s").id == p_old.id  # type: ignore[union-attr]
        runs.finish(new.id, "failed")
        newest = runs.create("newest-test", "test", {})
        newest.started_at = old.started_at + timedelta(minutes=2)
        p_test = prompts.add(newest.id, "s", "test mode", stage="given")
        prompts.set_scores(p_test.id, average=1.0)
        runs.finish(newest.id, "passed")
        interrupted = runs.create("interrupted", "optimize", {})
        interrupted.started_at = old.started_at + timedelta(minutes=3)
        p_int = prompts.add(interrupted.id, "s", "partial", stage="refined")
        prompts.set_scores(p_int.id, average=1.0)
        runs.finish(interrupted.id, "interrupted")
    with db.session_scope() as s:
        prompts = PromptRepository(s)
        assert prompts.latest_best("s").id == p_new_b.id  # type: ignore[union-attr]
        assert prompts.latest_best("unknown") is None


def test_test_case_repository(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-tc", "optimize", {})
        cases = TestCaseRepository(s)
        given: list[dict[str, Any]] = [
            {
                "case_key": "refund",
                "input_message": "I want a refund",
                "expected_behavior": "explains policy",
                "category": "billing",
                "stage": "given",
                "spec": {"assertions": [{"kind": "contains", "value": "refund"}], "repeats": 2},
            },
            {"case_key": "hello", "input_message": "hi", "stage": "given"},
        ]
        ids = cases.upsert_many(run.id, "s", given)
        assert set(ids) == {"refund", "hello"}
        again = cases.upsert_many(
            run.id, "s", [*given, {"case_key": "gen1", "input_message": "q", "stage": "quick"}]
        )
        assert {k: again[k] for k in ids} == ids and "gen1" in again
        assert cases.upsert_many(run.id, "s", [{"case_key": "hello", "input_message": "x"}]) == {
            "hello": ids["hello"]
        }
        cases.upsert_many(run.id, "other", [{"case_key": "refund", "input_message": "z"}])
        assert cases.upsert_many(run.id, "s", []) == {}
    with db.session_scope() as s:
        cases = TestCaseRepository(s)
        all_s = cases.for_suite(run.id, "s")
        assert [c.case_key for c in all_s] == ["refund", "hello", "gen1"]
        refund = all_s[0]
        assert refund.spec["repeats"] == 2 and refund.category == "billing"
        assert refund.expected_behavior == "explains policy"
        assert all_s[1].expected_behavior is None and all_s[1].spec == {}
        assert all_s[1].input_message == "hi"  # the later upsert did not overwrite
        assert [c.case_key for c in cases.for_suite(run.id, "s", stages=["quick"])] == ["gen1"]
        assert [c.case_key for c in cases.for_suite(run.id, "s", stages=["given", "quick"])] == [
            "refund",
            "hello",
            "gen1",
        ]
        assert cases.ids_and_categories(run.id, "s", ["given"]) == {
            "refund": (ids["refund"], "billing"),
            "hello": (ids["hello"], "general"),
        }
        found = cases.by_keys(run.id, "s", ["hello", "gen1", "missing"])
        assert set(found) == {"hello", "gen1"}
        assert found["hello"].id == ids["hello"]
        assert cases.by_keys(run.id, "other", ["refund"])["refund"].input_message == "z"


def test_evaluation_repository(db: Database) -> None:
    run_id, prompt_id, case_id = _seed(db)
    with db.session_scope() as s:
        case2 = TestCaseRepository(s).upsert_many(
            run_id, "support", [{"case_key": "c2", "input_message": "bye"}]
        )["c2"]
        evals = EvaluationRepository(s)
        rows = [
            _evaluation(run_id, prompt_id, case_id, 0, 1.0),
            _evaluation(run_id, prompt_id, case_id, 1, 0.5),
            _evaluation(run_id, prompt_id, case2, 0, 0.25),
        ]
        rows[0].update(
            functionality=1.0,
            safety=0.9,
            reasoning="fine",
            cached=True,
            latency_ms=12.5,
            input_tokens=10,
            output_tokens=20,
            cost_usd=0.001,
            assertion_results=[{"kind": "contains", "passed": True}],
        )
        evals.add_many(rows)
        evals.add_many([_evaluation(run_id, prompt_id, case_id, 0, 0.0)])  # duplicate ignored
        evals.add_many([])
    with db.session_scope() as s:
        evals = EvaluationRepository(s)
        assert evals.count(run_id) == 3
        assert evals.count(run_id + 1) == 0
        stored = evals.for_prompt(prompt_id)
        assert [(e.test_case_id, e.sample) for e in stored] == [
            (case_id, 0),
            (case_id, 1),
            (case2, 0),
        ]
        first = stored[0]
        assert first.overall_score == 1.0 and first.cached and first.passed
        assert first.assertion_results == [{"kind": "contains", "passed": True}]
        assert first.input_tokens == 10 and first.latency_ms == 12.5
        assert stored[1].cached is False and stored[1].assertion_results == []
        assert stored[2].passed is False and stored[2].functionality is None
        assert [e.sample for e in evals.for_prompt(prompt_id, [case_id])] == [0, 1]
        assert evals.done_keys(prompt_id) == {(case_id, 0), (case_id, 1), (case2, 0)}
        assert evals.done_keys(prompt_id + 100) == set()
        assert evals.mean_scores(prompt_id) == {case_id: 0.75, case2: 0.25}
        assert evals.mean_scores(prompt_id, [case2]) == {case2: 0.25}
        assert [e.id for e in evals.for_run(run_id)] == [e.id for e in stored]
        report = evals.report_rows(prompt_id)
        assert [(r.test_case_id, r.reasoning, r.cached) for r in report] == [
            (case_id, "fine", True),
            (case_id, None, False),
            (case2, None, False),
        ]
        assert report[0].assertion_results == [{"kind": "contains", "passed": True}]
        assert evals.report_rows(prompt_id + 100) == []


def test_stage_result_repository(db: Database) -> None:
    run_id, _, _ = _seed(db)
    with db.session_scope() as s:
        stages = StageResultRepository(s)
        row, done = stages.start(run_id, "support", "quick")
        assert not done and row.status == "running" and row.finished_at is None
        again, done = stages.start(run_id, "support", "quick")
        assert again.id == row.id and not done
        completed = stages.complete(row.id, {"best": 0.9})
        assert completed.status == "completed" and completed.finished_at is not None
        rig, _ = stages.start(run_id, "support", "rigorous")
        stages.complete(rig.id, {"spent": 1.0}, status="budget_exhausted")
        stages.start(run_id, "other", "quick")
    with db.session_scope() as s:
        stages = StageResultRepository(s)
        resumed, done = stages.start(run_id, "support", "quick")
        assert done and resumed.summary == {"best": 0.9}
        retried, done = stages.start(run_id, "support", "rigorous")
        assert not done and retried.status == "running" and retried.finished_at is None
        got = stages.get(run_id, "support", "quick")
        assert got is not None and got.status == "completed"
        assert stages.get(run_id, "support", "missing") is None
        assert [(r.suite, r.stage) for r in stages.for_run(run_id)] == [
            ("support", "quick"),
            ("support", "rigorous"),
            ("other", "quick"),
        ]
        assert [r.stage for r in stages.for_run(run_id, suite="other")] == ["quick"]


def test_weakness_repository(db: Database) -> None:
    run_id, prompt_id, _ = _seed(db)
    with db.session_scope() as s:
        other = PromptRepository(s).add(run_id, "billing", "Other prompt", stage="given")
        weak = WeaknessRepository(s)
        first = weak.add(run_id, prompt_id, 1, 0, ["too terse"], "add detail", ["c1"])
        dup = weak.add(run_id, prompt_id, 1, 0, ["changed"], "other", [])
        assert dup.id == first.id and dup.weaknesses == ["too terse"]
        weak.add(run_id, other.id, 2, 1, [{"issue": "x"}], "fix x", ["k"])
    with db.session_scope() as s:
        weak = WeaknessRepository(s)
        all_rows = weak.for_run(run_id)
        assert [(w.track_id, w.iteration) for w in all_rows] == [(1, 0), (2, 1)]
        assert all_rows[0].case_keys == ["c1"] and all_rows[0].suggestions == "add detail"
        billing = weak.for_run(run_id, suite="billing")
        assert len(billing) == 1 and billing[0].weaknesses == [{"issue": "x"}]
    # `.prompt` is loaded by the join, usable after the session closed.
    assert billing[0].prompt.suite == "billing"
    assert weak.for_run(run_id + 1) == []


def test_llm_call_repository(db: Database) -> None:
    run_id, _, _ = _seed(db)
    with db.session_scope() as s:
        calls = LLMCallRepository(s)
        for i in range(1203):
            calls.add(
                {
                    "request_hash": f"{i:064d}",
                    "model": "claude",
                    "role": "judge" if i % 2 else "target",
                    "request": {"messages": [{"role": "user", "content": str(i)}]},
                    "response": {"text": f"r{i}"},
                    "input_tokens": 10,
                    "output_tokens": 5,
                    "cost_usd": 0.5,
                    "latency_ms": 3.0,
                    "run_id": run_id if i < 3 else None,
                }
            )
        calls.add({"request_hash": f"{0:064d}", "model": "x", "role": "target", "request": {},
                   "response": {"text": "changed"}})  # fmt: skip
    with db.session_scope() as s:
        calls = LLMCallRepository(s)
        hit = calls.get(f"{0:064d}")
        assert hit is not None and hit.response == {"text": "r0"} and hit.model == "claude"
        assert calls.get("missing") is None
        wanted = [f"{i:064d}" for i in range(0, 1203, 1)] + ["absent"]
        found = calls.get_many(wanted)
        assert len(found) == 1203 and found[f"{1202:064d}"].response == {"text": "r1202"}
        assert calls.get_many([]) == {}
        stats = calls.stats(run_id)
        assert stats == {"calls": 3, "input_tokens": 30, "output_tokens": 15, "cost_usd": 1.5}
        assert calls.stats(run_id + 1) == {
            "calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
        }
    # The cache outlives its run: no foreign key from llm_calls.run_id.
    with db.session_scope() as s:
        s.execute(text("DELETE FROM optimization_runs"))
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(LLMCall)) == 1203


# --- several processes on one SQLite file ----------------------------------------------


def _ensure_schema_worker(url: str) -> str | None:
    database = Database(url)
    database.ensure_schema()
    revision = migrate.current_revision(database.engine)
    database.dispose()
    return revision


def test_concurrent_ensure_schema_on_a_new_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    revisions = _run_forked(_ensure_schema_worker, [(url,)] * 4)
    assert revisions == [migrate.head_revision()] * 4
    _check_schema(url)


def _insert_worker(
    database: Database, worker: int, run_id: int, prompt_id: int, case_id: int
) -> int:
    for i in range(100):
        with database.session_scope() as s:
            # Read, then write in the same transaction: with a deferred BEGIN this is the
            # pattern that fails at once with "database is locked" under contention.
            EvaluationRepository(s).done_keys(prompt_id)
            row = _evaluation(run_id, prompt_id, case_id, worker * 100 + i, 0.5)
            EvaluationRepository(s).add_many([row])
    return os.getpid()


def test_concurrent_writers_do_not_lock(db: Database) -> None:
    run_id, prompt_id, case_id = _seed(db)
    # The parent's engine exists already: each forked child must build its own.
    pids = _run_forked(_insert_worker, [(db, w, run_id, prompt_id, case_id) for w in range(4)])
    assert len(set(pids)) == 4 and os.getpid() not in pids
    with db.session_scope() as s:
        evals = EvaluationRepository(s)
        assert evals.count(run_id) == 400
        assert len(evals.done_keys(prompt_id)) == 400


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_migration_and_repositories(pg_url: str) -> None:
    database = Database(pg_url)
    assert database.dialect_name == "postgresql"
    database.ensure_schema()
    Database(pg_url).ensure_schema()
    _check_schema(pg_url)
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
        rows = [_evaluation(run.id, p.id, ids["a"], i, 0.5 + i / 10) for i in range(2)]
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
def test_postgres_concurrent_ensure_schema(pg_url: str) -> None:
    revisions = _run_forked(_ensure_schema_worker, [(pg_url,)] * 3)
    assert revisions == [migrate.head_revision()] * 3
    _check_schema(pg_url)


def test_head_revision_constant_matches_the_migrations() -> None:
    from pytest_promptopt.storage import migrate

    assert migrate.head_revision() == migrate.HEAD_REVISION


def test_latest_best_is_the_prompt_the_reporting_stage_chose(db: Database) -> None:
    with db.session_scope() as s:
        run = RunRepository(s).create("uid-best", "optimize", {})
        prompts = PromptRepository(s)
        gate_pick = prompts.add(run.id, "bot", "gate pick", stage="initial")
        higher_average = prompts.add(run.id, "bot", "higher average", stage="initial")
        prompts.set_scores(gate_pick.id, average=0.70)
        prompts.set_scores(higher_average.id, average=0.90)
        stages = StageResultRepository(s)
        row, _ = stages.start(run.id, "bot", "reporting")
        stages.complete(row.id, {"best_prompt_id": gate_pick.id})
        RunRepository(s).finish(run.id, "passed")
    with db.session_scope() as s:
        best = PromptRepository(s).latest_best("bot")
        assert best is not None and best.prompt_text == "gate pick"
        assert PromptRepository(s).latest_best("other") is None


def _alembic_upgrade(url: str, revision: str) -> None:
    """Run the packaged Alembic migrations up to `revision` on a database."""
    from alembic import command
    from sqlalchemy import create_engine

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
    assert migrate.current_revision(database.engine) == migrate.HEAD_REVISION
    database.dispose()


def test_a_database_at_an_older_revision_is_upgraded_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _alembic_upgrade(url, "promptopt_0001")
    database = Database(url)
    assert migrate.current_revision(database.engine) == "promptopt_0001"
    database.ensure_schema()
    assert migrate.current_revision(database.engine) == migrate.HEAD_REVISION
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM budget_ledgers").scalar() == 0
    database.dispose()
