"""Writes what a run judged: prompts, cases and evaluations, through the repositories."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from pytest_promptopt.evaluation.judge import JUDGE_VERSION
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.suites.clusters import cluster_of
from pytest_promptopt.suites.render import user_turn
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database


FLUSH_ROWS = 64
FLUSH_S = 0.2


def case_row(suite: Suite, case: Case, stage: str) -> dict[str, Any]:
    """The test_cases row for a case of `suite` (whose `input` template may fill its turn);
    its spec holds the case's resolved cluster (`suites.clusters`)."""
    spec = case.model_dump(mode="json", by_alias=True, exclude={"id", "input", "expected"})
    spec["cluster"] = cluster_of(suite, case)
    return {
        "case_key": case.id,
        "input_message": user_turn(suite, case),
        "expected_behavior": case.expected,
        "category": case.category,
        "stage": stage,
        "spec": spec,
    }


def evaluation_rows(run_id: int, result: CaseResult) -> list[dict[str, Any]]:
    """The evaluations rows for a case result, one per sample."""
    rows = []
    for s in result.samples:
        scores = s.verdict.scores if s.verdict else {}
        # A criterion the judge found not applicable is stored as null.
        stored = {**scores, **dict.fromkeys(s.verdict.not_applicable)} if s.verdict else {}
        rows.append(
            {
                "run_id": run_id,
                "prompt_id": result.prompt_id,
                "test_case_id": result.test_case_id,
                "sample": s.sample,
                "model_response": s.response,
                "functionality": scores.get("functionality"),
                "safety": scores.get("safety"),
                "consistency": scores.get("consistency"),
                "edge_case_handling": scores.get("edge_case_handling"),
                "scores": stored or None,
                "overall_score": s.overall_score,
                "passed": result.sample_passed(s),
                "reasoning": s.verdict.reasoning if s.verdict else None,
                "assertion_results": [a.model_dump() for a in s.assertions],
                "tool_calls": s.tool_calls or None,
                "trajectory": s.trajectory,
                "stop_reason": s.stop_reason,
                "cached": s.cached,
                "latency_ms": s.latency_ms,
                "input_tokens": s.input_tokens,
                "output_tokens": s.output_tokens,
                "cost_usd": s.cost_usd,
                "judge_spread": s.judge_spread,
                "judge_version": JUDGE_VERSION if s.verdict else None,
            }
        )
    return rows


class Recorder:
    """Registers suites and cases, and writes evaluations in one transaction per loop tick.

    Results are queued on the loop thread and flushed there or on the main thread; one lock
    guards the queue, the flush timer's flag and the write, so each row is written once and a
    `flush` returns only when everything queued before it is committed.
    """

    def __init__(self, db: Database, run_id: int) -> None:
        self._db = db
        self.run_id = run_id
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._scheduled = False

    def register_prompt(
        self, suite: Suite, prompt_text: str, *, stage: str = "given", original: bool = True
    ) -> int:
        """The id of the prompt row for this run and suite (created when new)."""
        from pytest_promptopt.storage.repositories import PromptRepository

        with self._db.session_scope() as session:
            prompt = PromptRepository(session).add(
                self.run_id, suite.name, prompt_text, stage=stage, is_original=original
            )
            return int(prompt.id)

    def register_cases(
        self, suite: Suite, cases: list[Case], stage: str = "given"
    ) -> dict[str, int]:
        """Case id -> test_cases row id, creating rows that are missing."""
        from pytest_promptopt.storage.repositories import TestCaseRepository

        with self._db.session_scope() as session:
            return TestCaseRepository(session).upsert_many(
                self.run_id, suite.name, [case_row(suite, c, stage) for c in cases]
            )

    def add_result(self, result: CaseResult) -> None:
        """Queue a case result's rows; written in batches (FLUSH_ROWS rows or FLUSH_S seconds).

        Outside an event loop the rows are written at once. A kill loses at most the queued
        rows; their calls are in the cache, so the next run re-creates them without calling
        the model.
        """
        rows = evaluation_rows(self.run_id, result)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._pending.extend(rows)
            full = loop is None or len(self._pending) >= FLUSH_ROWS
            arm = not full and not self._scheduled
            self._scheduled = self._scheduled or arm
        if full:
            self.flush()
        elif arm:
            assert loop is not None
            loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Write the queued evaluations (from any thread)."""
        with self._lock:
            self._scheduled = False
            rows, self._pending = self._pending, []
            if not rows:
                return
            from pytest_promptopt.storage.repositories import EvaluationRepository

            with self._db.session_scope() as session:
                EvaluationRepository(session).add_many(rows)
