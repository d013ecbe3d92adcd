"""What a run judged, read back: each suite's judged prompt and its evaluations per case."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.storage import Evaluation, Repositories, TestCase


def judged_evaluations(
    repos: Repositories, run_id: int
) -> tuple[dict[int, TestCase], dict[str, dict[str, list[Evaluation]]], dict[str, int]]:
    """The given cases by id, the judged prompt's evaluations per suite and case key (oldest
    first), and the judged prompt's id per suite (`judged_results` says which prompt)."""
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
    return cases, grouped, last_prompt
