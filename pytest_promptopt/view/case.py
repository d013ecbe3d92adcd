"""The Case page's data: the request, every sample's answer, checks and verdict, the history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.records.trajectory import trajectory_lines
from pytest_promptopt.reporting.trend import Series, TrendPoint, trend_chart
from pytest_promptopt.view.records import judged_evaluations

if TYPE_CHECKING:
    from pytest_promptopt.reporting.charts import Chart
    from pytest_promptopt.storage import Evaluation, OptimizationRun, Repositories

HISTORY_RUNS = 50


class CaseNotFound(LookupError):
    """The run judged no case of that key (in that suite)."""


def _sample(e: Evaluation) -> dict[str, Any]:
    """One judged answer: the text, tool calls, stop reason, checks and the verdict."""
    return {
        "evaluation_id": e.id,
        "sample": e.sample,
        "answer": e.model_response,
        "tool_calls": e.tool_calls or [],
        "trajectory": e.trajectory,
        "trajectory_lines": trajectory_lines(e.trajectory) if e.trajectory else [],
        "stop_reason": e.stop_reason,
        "checks": e.assertion_results or [],
        "criteria": e.scores or {},
        "reasoning": e.reasoning,
        "score": e.overall_score,
        "passed": e.passed,
        "judge_spread": e.judge_spread,
        "judge_version": e.judge_version,
        "cached": e.cached,
        "latency_ms": e.latency_ms,
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "cost_usd": e.cost_usd,
    }


def _request(system: str, spec: dict[str, Any], message: str) -> dict[str, Any]:
    """The request as the suite rendered it: system prompt, messages and tools."""
    messages = spec.get("messages") or [{"role": "user", "content": message}]
    return {"system": system, "messages": messages, "tools": spec.get("tools") or []}


def find_case(
    repos: Repositories, run_id: int, case_key: str, suite: str | None
) -> tuple[str, list[Evaluation]]:
    """The suite and samples of the case `case_key` the run judged (the first of several)."""
    for name, by_key in judged_evaluations(repos, run_id).items():
        if (suite is None or name == suite) and case_key in by_key:
            return name, by_key[case_key]
    where = f" in suite {suite!r}" if suite else ""
    raise CaseNotFound(f"run {run_id} judged no case {case_key!r}{where}")


def history(repos: Repositories, suite: str, case_key: str) -> list[dict[str, Any]]:
    """The case's mean score and outcome in each recent run that judged it, oldest first."""
    rows = []
    for run in reversed(repos.runs.list_recent(HISTORY_RUNS)):
        samples = judged_evaluations(repos, run.id).get(suite, {}).get(case_key)
        if samples:
            rows.append({
                "run_id": run.id,
                "score": sum(e.overall_score for e in samples) / len(samples),
                "passed": all(e.passed for e in samples),
            })  # fmt: skip
    return rows


def case_data(
    repos: Repositories, run: OptimizationRun, case_key: str, suite: str | None
) -> dict[str, Any]:
    """Everything the database holds about one case of a run."""
    name, samples = find_case(repos, run.id, case_key, suite)
    case = samples[0].test_case
    prompt = repos.prompts.get(samples[0].prompt_id)
    scores = [e.overall_score for e in samples]
    return {
        "run_id": run.id,
        "suite": name,
        "case_key": case_key,
        "category": case.category,
        "input": case.input_message,
        "expected": case.expected_behavior,
        "prompt_id": prompt.id if prompt else None,
        "request": _request(prompt.prompt_text if prompt else "", case.spec or {},
                            case.input_message),
        "samples": [_sample(e) for e in samples],
        "score": sum(scores) / len(scores),
        "passed": all(e.passed for e in samples),
        "spread": max(scores) - min(scores),
        "history": history(repos, name, case_key),
    }  # fmt: skip


def history_chart(data: dict[str, Any]) -> Chart | None:
    """The case's score run by run."""
    points = [TrendPoint(h["run_id"], h["score"]) for h in data["history"]]
    return trend_chart("score of this case per run", [Series("score", "trend-score", points)])
