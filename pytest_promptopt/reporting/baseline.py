"""Each suite's results in a run as read back from the database, and runs compared suite by suite.

`judged_results` is what `promptopt show`/`diff` print and what the baseline comparison reads:
per suite, the prompt the run's items judged and one row per given case (its score is the mean
over its samples). `compare_with_baselines` (`--promptopt-baseline`, part of the run-level gate)
puts each suite through `stats.compare_runs` against its blessed baseline run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from pytest_promptopt.evaluation.pairwise import PairCase, PairJudging
from pytest_promptopt.reporting.judged import judged_evaluations
from pytest_promptopt.reporting.pairwise import judge_pairs, pair_cases
from pytest_promptopt.stats import DEFAULT_MARGIN, CaseOutcome, PairedComparison, compare_runs
from pytest_promptopt.stats.intervals import ComparisonOutcome
from pytest_promptopt.stats.pairwise import PairwiseComparison

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
    pairwise: PairwiseComparison | None = None
    """`comparison: pairwise`: the pairwise judge's verdict, which then decides."""

    @property
    def verdict(self) -> ComparisonOutcome:
        """The deciding verdict: the pairwise judge's when it judged, else the scores'."""
        return self.pairwise.verdict if self.pairwise is not None else self.comparison.verdict

    @property
    def regressed(self) -> bool:
        """True when the suite regressed against its baseline."""
        return self.verdict == "regressed"

    def describe_comparison(self) -> str:
        """The deciding comparison's figures, and which comparison it was."""
        if self.pairwise is None:
            return f"{self.comparison.describe()}; compared by scores"
        c = self.comparison
        return (
            f"{self.pairwise.describe()}; compared pairwise (the scores alone: {c.verdict}, "
            f"change {c.mean_delta:+.3f})"
        )

    def describe(self) -> str:
        """One line: the suite, the baseline run, the comparison and its warnings."""
        line = f"baseline run {self.baseline_run_id}: {self.describe_comparison()}"
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
    cases, grouped, last_prompt = judged_evaluations(repos, run_id)
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
        "trajectory": latest.trajectory,
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
    db: Database,
    run_id: int,
    suites: Iterable[str],
    margin: float = DEFAULT_MARGIN,
    against: int | None = None,
    *,
    modes: Mapping[str, str] | None = None,
    judging: PairJudging | None = None,
) -> dict[str, BaselineResult]:
    """Each suite of the run compared with its blessed baseline (suites without one: left out),
    or with the run `against` when given (`promptopt gate --baseline RUN`).

    `modes` names each suite's comparison (`scores`, the default, or `pairwise`); a pairwise
    suite's shared cases also go to `judging`, after the database transaction has ended (its
    calls are recorded in the database).
    """
    from pytest_promptopt.storage import transaction

    results: dict[str, BaselineResult] = {}
    suites = list(suites)
    pairs: dict[str, list[PairCase]] = {}
    with transaction(db) as repos:
        if against is None:
            blessed = {b.suite: b.run_id for b in repos.baselines.current()}
        else:
            blessed = {s: against for s in suites}
        wanted = [s for s in suites if s in blessed and blessed[s] != run_id]
        if not wanted:
            return results
        current = judged_results(repos, run_id)
        cases, now_evals, _ = judged_evaluations(repos, run_id)
        versions = {run_id: repos.evaluations.judge_versions(run_id)}
        baselines: dict[int, dict[str, dict[str, Any]]] = {}
        base_evals: dict[int, dict[str, dict[str, list[Evaluation]]]] = {}
        for suite in wanted:
            base_id = blessed[suite]
            if base_id not in baselines:
                baselines[base_id] = judged_results(repos, base_id)
                base_evals[base_id] = judged_evaluations(repos, base_id)[1]
                versions[base_id] = repos.evaluations.judge_versions(base_id)
            comparison = compare_runs(
                suite_outcomes(baselines[base_id], suite),
                suite_outcomes(current, suite),
                margin=margin,
            )
            if judging is not None and (modes or {}).get(suite) == "pairwise":
                old = base_evals[base_id].get(suite, {})
                pairs[suite] = pair_cases(cases, old, now_evals.get(suite, {}))
            base_run = repos.runs.get(base_id)
            results[suite] = BaselineResult(
                suite=suite,
                baseline_run_id=base_id,
                run_id=run_id,
                comparison=comparison,
                judge_note=judge_note(versions[base_id], versions[run_id]),
                baseline_status=base_run.status if base_run is not None else "deleted",
            )
    for suite, shared in pairs.items():
        assert judging is not None
        results[suite].pairwise = judge_pairs(shared, judging, f"{suite} against its baseline")
    return results
