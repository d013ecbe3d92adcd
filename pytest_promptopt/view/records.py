"""A run's case records read back from the database, as the items of its session reported them."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.reporting.baseline import judged_results

if TYPE_CHECKING:
    from pytest_promptopt.storage import Evaluation, OptimizationRun, Repositories

DEFAULT_THRESHOLD = 0.7


def judged_evaluations(repos: Repositories, run_id: int) -> dict[str, dict[str, list[Evaluation]]]:
    """Per suite and case key: the evaluations of the prompt the run's items judged."""
    judged = judged_results(repos, run_id)
    prompts = {suite: info["prompt_id"] for suite, info in judged.items()}
    cases = {c.id: c for c in repos.test_cases.for_run(run_id, stage="given")}
    grouped: dict[str, dict[str, list[Evaluation]]] = defaultdict(lambda: defaultdict(list))
    for e in repos.evaluations.for_run(run_id):
        case = cases.get(e.test_case_id)
        if case is not None and prompts.get(case.suite) == e.prompt_id:
            grouped[case.suite][case.case_key].append(e)
    for by_key in grouped.values():
        for samples in by_key.values():
            samples.sort(key=lambda e: e.sample)
    return {suite: dict(by_key) for suite, by_key in grouped.items()}


def _threshold(run: OptimizationRun, spec: dict[str, Any]) -> float:
    """The case's own threshold, else the run's configured one (a suite's own is not stored)."""
    for value in (spec.get("threshold"), (run.settings or {}).get("threshold")):
        if isinstance(value, (int, float)):
            return float(value)
    return DEFAULT_THRESHOLD


def case_record(run: OptimizationRun, suite: str, samples: list[Evaluation]) -> CaseRecord:
    """One case's record from its samples: the mean score, passed when every sample passed."""
    case = samples[0].test_case
    spreads = [e.judge_spread for e in samples if e.judge_spread is not None]
    latest = samples[-1]
    costs = [e.cost_usd for e in samples]
    variant = suite.partition("@")[2]
    return CaseRecord(
        suite=suite,
        case_id=case.case_key,
        prompt_id=latest.prompt_id,
        score=sum(e.overall_score for e in samples) / len(samples),
        threshold=_threshold(run, case.spec or {}),
        passed=all(e.passed for e in samples),
        criteria={k: float(v) for k, v in (latest.scores or {}).items() if v is not None},
        variant=variant or None,
        judge_spread=sum(spreads) / len(spreads) if spreads else None,
        refusals=sum(e.stop_reason == "refusal" for e in samples),
        calls=sum(not e.cached for e in samples),
        cache_hits=sum(e.cached for e in samples),
        input_tokens=sum(e.input_tokens for e in samples),
        output_tokens=sum(e.output_tokens for e in samples),
        cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
    )


def run_records(repos: Repositories, run: OptimizationRun) -> dict[str, list[CaseRecord]]:
    """Per suite (in the order the run stored them): the records of its judged cases."""
    evaluations = judged_evaluations(repos, run.id)
    return {
        suite: [case_record(run, suite, samples) for samples in by_key.values()]
        for suite, by_key in sorted(evaluations.items())
    }
