"""Runs read back from the database: the one-line facts of a run, two runs compared case by case.

`promptopt runs`, `show` and `diff` print them; the viewer (`promptopt view`) shows them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pytest_promptopt.reporting.baseline import judge_note, judged_results, suite_outcomes
from pytest_promptopt.stats import DEFAULT_MARGIN, compare_runs

if TYPE_CHECKING:
    from pytest_promptopt.storage import OptimizationRun, Repositories

_EPSILON = 1e-6
_CHANGE_ORDER = {"regressed": 0, "improved": 1, "unchanged": 2, "only_a": 3, "only_b": 4}


def run_usage(repos: Repositories, run: OptimizationRun) -> dict[str, Any]:
    """What a run itself used (calls made, cache hits, tokens, cost), as its summary counts.

    A run recorded before runs kept their usage falls back to the cache entries it recorded.
    """
    own = repos.runs.usage(run)
    if own is not None:
        return own
    return {**repos.llm_calls.stats(run.id), "cache_hits": None}


def run_summary(
    repos: Repositories, run: OptimizationRun, judged: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Return the one-line facts of a run: times, suites, cases, pass rate, calls, cost.

    `judged` is the run's `judged_results` when the caller has them already.
    """
    if judged is None:
        judged = judged_results(repos, run.id)
    cases = [c for suite in judged.values() for c in suite["cases"]]
    passed = sum(1 for c in cases if c["passed"])
    stats = run_usage(repos, run)
    finished = run.finished_at
    return {
        "id": run.id,
        "started_at": run.started_at,
        "finished_at": finished,
        "duration_s": (finished - run.started_at).total_seconds() if finished else None,
        "mode": run.mode,
        "status": run.status,
        "suites": repos.runs.suites(run.id),
        "cases": len(cases),
        "cases_passed": passed,
        "pass_rate": passed / len(cases) if cases else None,
        "calls": stats["calls"],
        "cost_usd": stats["cost_usd"],
    }


def diff_data(
    repos: Repositories,
    run_a: OptimizationRun,
    run_b: OptimizationRun,
    margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """Compare the judged results of two runs case by case and suite by suite.

    Each suite both runs judged gets the baseline gate's verdict (`verdict`, `comparison`:
    run B against run A, see `stats.compare_runs`).
    """
    sides = [judged_results(repos, run.id) for run in (run_a, run_b)]
    flat = [
        {(suite, c["case_key"]): c for suite, info in side.items() for c in info["cases"]}
        for side in sides
    ]
    rows = []
    for suite, key in sorted(set(flat[0]) | set(flat[1])):
        a, b = flat[0].get((suite, key)), flat[1].get((suite, key))
        row: dict[str, Any] = {
            "suite": suite,
            "case_key": key,
            "score_a": a["score"] if a else None,
            "score_b": b["score"] if b else None,
            "passed_a": a["passed"] if a else None,
            "passed_b": b["passed"] if b else None,
            "delta": b["score"] - a["score"] if a and b else None,
            "pass_to_fail": bool(a and b and a["passed"] and not b["passed"]),
            "fail_to_pass": bool(a and b and not a["passed"] and b["passed"]),
        }
        if a is None or b is None:
            row["change"] = "only_b" if a is None else "only_a"
        elif row["pass_to_fail"] or (not row["fail_to_pass"] and row["delta"] < -_EPSILON):
            row["change"] = "regressed"
        elif row["fail_to_pass"] or row["delta"] > _EPSILON:
            row["change"] = "improved"
        else:
            row["change"] = "unchanged"
        rows.append(row)
    # Worst regressions first, then the biggest improvements.
    rows.sort(key=lambda r: (_CHANGE_ORDER[r["change"]], -abs(r["delta"] or 0.0)))
    suite_rows = []
    for suite in sorted(set(sides[0]) | set(sides[1])):
        means = []
        for side in sides:
            cases = side.get(suite, {}).get("cases", [])
            means.append(sum(c["score"] for c in cases) / len(cases) if cases else None)
        both = means[0] is not None and means[1] is not None
        diff = means[1] - means[0] if both else None  # type: ignore[operator]
        row = {"suite": suite, "mean_a": means[0], "mean_b": means[1], "delta": diff}
        if both:
            comparison = compare_runs(
                suite_outcomes(sides[0], suite), suite_outcomes(sides[1], suite), margin=margin
            )
            row["verdict"] = comparison.verdict
            row["comparison"] = asdict(comparison)
        suite_rows.append(row)
    counts = {name: sum(1 for r in rows if r["change"] == name) for name in _CHANGE_ORDER}
    regressed = [r["suite"] for r in suite_rows if r.get("verdict") == "regressed"]
    versions = [repos.evaluations.judge_versions(run.id) for run in (run_a, run_b)]
    return {"run_a": run_a.id, "run_b": run_b.id, "cases": rows, "suites": suite_rows,
            "summary": counts, "regressed_suites": regressed,
            "judge_versions": {"a": versions[0], "b": versions[1]},
            "judge_note": judge_note(*versions)}  # fmt: skip
