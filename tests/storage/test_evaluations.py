"""EvaluationRepository: inserts that skip duplicates, per-prompt reads, means and counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_promptopt.storage import Database, EvaluationRepository, TestCaseRepository


def test_evaluation_repository(
    db: Database, seeded: tuple[int, int, int], evaluation_row: Callable[..., dict[str, Any]]
) -> None:
    run_id, prompt_id, case_id = seeded
    with db.session_scope() as s:
        case2 = TestCaseRepository(s).upsert_many(
            run_id, "support", [{"case_key": "c2", "input_message": "bye"}]
        )["c2"]
        evals = EvaluationRepository(s)
        rows = [
            evaluation_row(run_id, prompt_id, case_id, 0, 1.0),
            evaluation_row(run_id, prompt_id, case_id, 1, 0.5),
            evaluation_row(run_id, prompt_id, case2, 0, 0.25),
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
        evals.add_many([evaluation_row(run_id, prompt_id, case_id, 0, 0.0)])  # duplicate ignored
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
