"""Case records for the tests: one builder instead of a copy per test module."""

from __future__ import annotations

from pytest_promptopt.records.case import CaseRecord


def make_record(
    case_id: str, score: float, *, passed: bool, error: str | None = None
) -> CaseRecord:
    """A record of suite `s`, prompt 3, with two calls, one cache hit and two criteria."""
    return CaseRecord(
        suite="s", case_id=case_id, prompt_id=3, score=score, threshold=0.7, passed=passed,
        error=error, calls=2, cache_hits=1, input_tokens=10, output_tokens=5, cost_usd=0.01,
        criteria={"functionality": 0.8, "tone": 0.5},
    )  # fmt: skip
