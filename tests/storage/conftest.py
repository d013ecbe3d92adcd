"""Fixtures of the storage tests: a migrated SQLite database, seed rows and schema checks."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from pytest_promptopt.storage import Database, migrate, transaction

EXPECTED_COLUMNS: dict[str, set[str]] = {
    "optimization_runs": {
        "id", "session_uid", "started_at", "finished_at", "status", "mode", "settings", "summary",
        "calls", "cache_hits", "input_tokens", "output_tokens", "cost_usd", "unpriced_calls",
        "heartbeat_at", "host", "pid", "version", "name",
    },
    "run_shards": {
        "id", "run_id", "shard", "total", "status", "session_uid", "host", "pid",
        "heartbeat_at", "finished_at", "records",
    },
    "prompts": {
        "id", "run_id", "suite", "prompt_text", "prompt_hash", "stage", "strategy",
        "parent_prompt_id", "track_id", "iteration", "is_original_system_prompt",
        "quick_score", "rigorous_score", "average_score", "created_at",
    },
    "test_cases": {
        "id", "run_id", "suite", "case_key", "input_message", "expected_behavior", "category",
        "stage", "split", "spec", "created_at",
    },
    "evaluations": {
        "id", "run_id", "prompt_id", "test_case_id", "sample", "model_response",
        "functionality", "safety", "consistency", "edge_case_handling", "scores", "overall_score",
        "passed", "reasoning", "assertion_results", "tool_calls", "stop_reason", "trajectory",
        "cached",
        "latency_ms", "input_tokens", "output_tokens", "cost_usd", "created_at", "judge_spread",
        "judge_version",
    },
    "stage_results": {
        "id", "run_id", "suite", "stage", "status", "started_at", "finished_at", "summary",
        "version",
    },
    "weakness_analyses": {
        "id", "run_id", "prompt_id", "track_id", "iteration", "weaknesses", "suggestions",
        "case_keys", "created_at",
    },
    "llm_calls": {
        "id", "request_hash", "model", "role", "request", "response", "input_tokens",
        "output_tokens", "cost_usd", "latency_ms", "run_id", "created_at",
        "cache_write_tokens", "cache_read_tokens", "sample", "requested_model",
    },
    "budget_ledgers": {"session_uid", "calls", "spent_usd", "reserved_usd"},
    "baselines": {"id", "suite", "run_id", "blessed_at"},
    "labels": {
        "id", "evaluation_id", "suite", "case_key", "answer_hash", "criterion", "level", "passed",
        "labeller", "note", "created_at",
    },
    "rate_limits": {
        "session_uid", "ceiling", "current", "lowest", "generation", "refused", "paused_until",
    },
    "batches": {
        "id", "model", "status", "request_hashes", "run_id", "created_at", "collected_at",
    },
    "model_capabilities": {"model", "capabilities", "source", "fetched_at"},
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
    "baselines": set(),
    "labels": {("answer_hash", "criterion", "labeller")},
    "rate_limits": set(),
    "batches": set(),
    "model_capabilities": set(),
    "run_shards": {("run_id", "shard")},
}

EvaluationRow = Callable[[int, int, int, int, float], dict[str, Any]]
RunForked = Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database in a folder that did not exist yet."""
    database = Database(f"sqlite:///{tmp_path / 'sub' / 'promptopt.db'}")
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def seeded(db: Database) -> tuple[int, int, int]:
    """(run id, prompt id, case id) of a run, its prompt and one case `c1` of suite `support`."""
    with transaction(db) as repos:
        run = repos.runs.create("uid-seed", "optimize", {"k": 1})
        prompt = repos.prompts.add(run.id, "support", "You are helpful.", stage="given")
        ids = repos.test_cases.upsert_many(
            run.id, "support", [{"case_key": "c1", "input_message": "hi"}]
        )
        return run.id, prompt.id, ids["c1"]


def _evaluation(
    run_id: int, prompt_id: int, case_id: int, sample: int, score: float
) -> dict[str, Any]:
    """An evaluation row of one sample; passed when the score reaches 0.5."""
    return {
        "run_id": run_id,
        "prompt_id": prompt_id,
        "test_case_id": case_id,
        "sample": sample,
        "model_response": f"answer {sample}",
        "overall_score": score,
        "passed": score >= 0.5,
    }


@pytest.fixture
def evaluation_row() -> EvaluationRow:
    """Build an evaluation row: (run, prompt, case, sample, score) -> row dict."""
    return _evaluation


def _check_schema(engine_url: str, **kwargs: Any) -> None:
    """Assert the database at `engine_url` has exactly the plugin's tables, keys and revision."""
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


@pytest.fixture
def check_schema() -> Callable[[str], None]:
    """Assert a database URL holds the plugin's schema at head."""
    return _check_schema


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


@pytest.fixture
def run_forked() -> RunForked:
    """Run a function in forked processes, one per argument tuple; return what each returned."""
    return _run_forked


def _ensure_schema_worker(url: str) -> str | None:
    """Migrate the database at `url` from a fresh handle; return its revision."""
    database = Database(url)
    database.ensure_schema()
    revision = migrate.current_revision(database.engine)
    database.dispose()
    return revision


@pytest.fixture
def concurrent_ensure_schema() -> Callable[[str, int], list[str | None]]:
    """Migrate one database from `n` forked processes at once; return each one's revision."""

    def run(url: str, n: int) -> list[str | None]:
        return _run_forked(_ensure_schema_worker, [(url,)] * n)

    return run
