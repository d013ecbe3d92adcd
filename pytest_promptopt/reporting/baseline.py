"""Each suite's results in a run as read back from the database, and runs compared suite by suite.

`judged_results` is what `promptopt show`/`diff` print and what the baseline comparison reads:
per suite, the prompt the run's items judged and one row per given case (its score is the mean
over its samples). `compare_with_baselines` (`--promptopt-baseline`, part of the run-level gate)
puts each suite through `stats.compare_runs` against its blessed baseline run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pytest_promptopt.stats import DEFAULT_MARGIN, CaseOutcome, PairedComparison, compare_runs

if TYPE_CHECKING:
    from pytest_promptopt.storage import Evaluation, Repositories
    from pytest_promptopt.storage.database import Database


class BaselineResult(BaseModel):
    """One suite of a run compared with its baseline run (`comparison` holds every figure)."""

    suite: str
    baseline_run_id: int
    run_id: int
    comparison: PairedComparison
    judge_note: str | None = None
    baseline_status: str = "passed"
    """The baseline run's status: one that did not finish (blessed before bless refused that)
    is named in the line, since its results are partial."""

    @property
    def regressed(self) -> bool:
        """True when the suite regressed against its baseline."""
        return self.comparison.verdict == "regressed"

    def describe(self) -> str:
        """One line: the suite, the baseline run, the comparison and its warnings."""
        line = f"baseline run {self.baseline_run_id}: {self.comparison.describe()}"
        if self.baseline_status not in ("passed", "failed"):
            line += (
                f" (warning: baseline run {self.baseline_run_id} did not finish, status "
                f"{self.baseline_status}: bless a finished run)"
            )
        return f"{line}; {self.judge_note}" if self.judge_note else line


def judge_note(versions_a: list[str], versions_b: list[str]) -> str | None:
    """A warning when two runs were judged by different judge versions (None: the same)."""
    if versions_a == versions_b:
        return None
    shown = [", ".join(v) if v else "unknown (before versioning)" for v in (versions_a, versions_b)]
    return (
        f"note: the runs were judged by different judge versions (A: {shown[0]}, B: {shown[1]}); "
        "score changes may come from the judge, not the prompt"
    )


def judged_results(repos: Repositories, run_id: int) -> dict[str, dict[str, Any]]:
    """Per suite: the prompt the run's items judged and its per-case results on given cases.

    Under --optimize that is the prompt the pipeline chose (its items re-use the pipeline's
    evaluations, so the last one written may be another candidate's); otherwise the prompt
    judged last on the given cases.
    """
    cases = {case.id: case for case in repos.test_cases.for_run(run_id, stage="given")}
    evals = [e for e in repos.evaluations.for_run(run_id) if e.test_case_id in cases]
    evals.sort(key=lambda e: (e.created_at, e.id))
    last_prompt: dict[str, int] = {}
    for ev in evals:
        last_prompt[cases[ev.test_case_id].suite] = ev.prompt_id
    last_prompt.update(repos.prompts.chosen_ids(run_id))
    grouped: dict[str, dict[str, list[Evaluation]]] = {}
    for ev in evals:
        case = cases[ev.test_case_id]
        if last_prompt[case.suite] == ev.prompt_id:
            grouped.setdefault(case.suite, {}).setdefault(case.case_key, []).append(ev)
    result: dict[str, dict[str, Any]] = {}
    for suite, by_key in grouped.items():
        rows = [case_result(cases, samples) for samples in by_key.values()]
        result[suite] = {"prompt_id": last_prompt[suite], "cases": rows}
    return result


def case_result(cases: dict[int, Any], samples: list[Evaluation]) -> dict[str, Any]:
    """Summarize one case: mean score over samples, passed when all passed, latest details."""
    latest = samples[-1]
    case = cases[latest.test_case_id]
    return {
        "case_key": case.case_key,
        "category": case.category,
        "cluster": (case.spec or {}).get("cluster") or "",
        "score": sum(e.overall_score for e in samples) / len(samples),
        "passed": all(e.passed for e in samples),
        "samples": len(samples),
        "functionality": latest.functionality,
        "safety": latest.safety,
        "consistency": latest.consistency,
        "edge_case_handling": latest.edge_case_handling,
        "scores": latest.scores or {},
        "reasoning": latest.reasoning,
        "assertion_results": latest.assertion_results,
        "model_response": latest.model_response,
    }


def suite_outcomes(judged: dict[str, dict[str, Any]], suite: str) -> dict[str, CaseOutcome]:
    """One suite's `judged_results` rows as case id -> (score, passed, category, cluster)."""
    rows = judged.get(suite, {}).get("cases", [])
    return {
        r["case_key"]: CaseOutcome(
            float(r["score"]), bool(r["passed"]), r.get("category") or "", r.get("cluster") or ""
        )
        for r in rows
    }


def compare_with_baselines(
    db: Database, run_id: int, suites: Iterable[str], margin: float = DEFAULT_MARGIN
) -> dict[str, BaselineResult]:
    """Each suite of the run compared with its blessed baseline (suites without one: left out)."""
    from pytest_promptopt.storage import transaction

    results: dict[str, BaselineResult] = {}
    with transaction(db) as repos:
        blessed = {b.suite: b.run_id for b in repos.baselines.current()}
        wanted = [s for s in suites if s in blessed and blessed[s] != run_id]
        if not wanted:
            return results
        current = judged_results(repos, run_id)
        versions = {run_id: repos.evaluations.judge_versions(run_id)}
        baselines: dict[int, dict[str, dict[str, Any]]] = {}
        for suite in wanted:
            base_id = blessed[suite]
            if base_id not in baselines:
                baselines[base_id] = judged_results(repos, base_id)
                versions[base_id] = repos.evaluations.judge_versions(base_id)
            comparison = compare_runs(
                suite_outcomes(baselines[base_id], suite),
                suite_outcomes(current, suite),
                margin=margin,
            )
            base_run = repos.runs.get(base_id)
            results[suite] = BaselineResult(
                suite=suite,
                baseline_run_id=base_id,
                run_id=run_id,
                comparison=comparison,
                judge_note=judge_note(versions[base_id], versions[run_id]),
                baseline_status=base_run.status if base_run is not None else "deleted",
            )
    return results
