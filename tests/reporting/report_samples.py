"""A run report with intervals and a baseline comparison, for the report and browser tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pytest_promptopt.evaluation.record import SuiteTotals
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.reporting.baseline import BaselineResult
from pytest_promptopt.reporting.model import CaseRow, RunReport, SuiteSummary
from pytest_promptopt.stats import CaseOutcome, compare_runs

START = datetime(2025, 1, 2, 10, 0, 0, tzinfo=timezone.utc)
BEFORE = [0.95, 0.93, 0.9, 0.94, 0.96, 0.92, 0.91, 0.95, 0.9, 0.93]
AFTER = [0.64, 0.66, 0.85, 0.88, 0.9, 0.86, 0.85, 0.9, 0.84, 0.95]  # two fell, most dropped


def baseline_report(run_id: int = 12, baseline_run_id: int = 11) -> RunReport:
    """Two suites: `support` (10 cases, regressed against its baseline) and `sql` (no baseline)."""
    rows = [
        CaseRow(
            suite="support",
            case_id=f"case-{i}",
            score=score,
            threshold=0.7,
            passed=score >= 0.7,
            criteria={"functionality": score},
            response="An answer.",
        )
        for i, score in enumerate(AFTER)
    ]
    rows += [
        CaseRow(suite="sql", case_id=f"q{i}", score=s, threshold=0.7, passed=s >= 0.7)
        for i, s in enumerate([0.8, 0.9, 0.6])
    ]
    comparison = compare_runs(
        {f"case-{i}": CaseOutcome(s, s >= 0.7) for i, s in enumerate(BEFORE)},
        {f"case-{i}": CaseOutcome(s, s >= 0.7) for i, s in enumerate(AFTER)},
    )
    suites = []
    for name in ("support", "sql"):
        records = [CaseRecord(**r.model_dump(include=set(CaseRecord.model_fields))) for r in rows]
        totals = SuiteTotals.of(name, [r for r in records if r.suite == name])
        suites.append(SuiteSummary(**totals.model_dump(), prompt_text="You help."))
    suites[0].baseline = BaselineResult(
        suite="support", baseline_run_id=baseline_run_id, run_id=run_id, comparison=comparison
    )
    return RunReport(
        run_id=run_id,
        session_uid="abc",
        mode="test",
        status="failed",
        started_at=START,
        finished_at=START + timedelta(seconds=5),
        suites=suites,
        cases=rows,
    )
