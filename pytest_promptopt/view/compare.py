"""The Compare page's data: `promptopt diff`'s rows, flips first, with both answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.reporting.baseline import judged_results

if TYPE_CHECKING:
    from pytest_promptopt.storage import OptimizationRun, Repositories

_ORDER = {"pass_to_fail": 0, "fail_to_pass": 1}


def _answers(repos: Repositories, run_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (suite, case key): the answer and the judge's reasoning the run judged."""
    return {
        (suite, c["case_key"]): {"answer": c["model_response"], "reasoning": c["reasoning"]}
        for suite, info in judged_results(repos, run_id).items()
        for c in info["cases"]
    }


def flip(row: dict[str, Any]) -> str:
    """`pass_to_fail`, `fail_to_pass` or '' for a row of `diff_data`."""
    return (
        "pass_to_fail" if row["pass_to_fail"] else ("fail_to_pass" if row["fail_to_pass"] else "")
    )


def compare_data(
    repos: Repositories, run_a: OptimizationRun, run_b: OptimizationRun
) -> dict[str, Any]:
    """Run B against run A: flips first (pass to fail, then fail to pass), each case with both
    answers side by side, and each suite's paired verdict with its interval."""
    from pytest_promptopt.reporting.history import diff_data

    margin = (run_b.settings or {}).get("regression_margin")
    data = diff_data(repos, run_a, run_b, **({"margin": margin} if margin is not None else {}))
    answers = [_answers(repos, run.id) for run in (run_a, run_b)]
    for row in data["cases"]:
        key = (row["suite"], row["case_key"])
        row["flip"] = flip(row)
        row["a"] = answers[0].get(key)
        row["b"] = answers[1].get(key)
    data["cases"].sort(key=lambda r: _ORDER.get(r["flip"], 2))  # stable: diff's order after
    data["flips"] = sum(1 for r in data["cases"] if r["flip"])
    return data
