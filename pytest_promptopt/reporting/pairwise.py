"""Pairwise comparisons read from the database: the shared cases' stored answers of two runs,
judged by the pairwise judge in both orders, and the verdict `stats.compare_pairs` gives them.

A run's answers are those of the prompt its items judged (`baseline.judged_evaluations`), each
case's latest sample; so a blessed baseline's answers are compared as they were stored, and
the old prompt is never run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_promptopt.evaluation.pairwise import PairCase, PairJudging, Reply
from pytest_promptopt.evaluation.variants import variant_groups
from pytest_promptopt.protocol import CRITERION_MEANINGS
from pytest_promptopt.reporting.judged import judged_evaluations
from pytest_promptopt.stats.intervals import RunComparison
from pytest_promptopt.stats.pairwise import PairwiseComparison, compare_pairs

if TYPE_CHECKING:
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.storage import Evaluation, TestCase
    from pytest_promptopt.storage.database import Database


def criteria_of(ev: Evaluation) -> tuple[str, ...]:
    """The criteria an evaluation was judged on (its scores' names, not-applicable ones too)."""
    if ev.scores:
        return tuple(ev.scores)
    return tuple(name for name in CRITERION_MEANINGS if getattr(ev, name, None) is not None)


def reply_of(ev: Evaluation) -> Reply:
    """An evaluation's answer: its text and its tool calls."""
    calls: list[Any] = ev.tool_calls or []
    return Reply(ev.model_response or "", tuple(c for c in calls if isinstance(c, dict)))


def pair_cases(
    cases: Mapping[int, TestCase],
    old: Mapping[str, Sequence[Evaluation]],
    new: Mapping[str, Sequence[Evaluation]],
) -> list[PairCase]:
    """The cases both runs judged, in case-key order, with the new run's input and criteria."""
    out = []
    for key in sorted(set(old) & set(new)):
        latest = new[key][-1]
        case = cases[latest.test_case_id]
        out.append(
            PairCase(
                case_key=key,
                user_input=case.input_message,
                expected=case.expected_behavior,
                criteria=criteria_of(latest),
                old=reply_of(old[key][-1]),
                new=reply_of(latest),
            )
        )
    return out


def judge_pairs(
    cases: Sequence[PairCase],
    judging: PairJudging,
    label: str,
    decision: RunComparison = "baseline",
) -> PairwiseComparison:
    """Judge every shared case in both orders and compare (`stats.pairwise.compare_pairs`)."""
    judged = judging(cases, label) if cases else {}
    return compare_pairs(
        {key: j.outcome for key, j in judged.items()},
        decision=decision,
        order_dependent=sum(1 for j in judged.values() if j.order_dependent),
    )


def comparison_modes(records: Mapping[str, Sequence[CaseRecord]], default: str) -> dict[str, str]:
    """Each suite's comparison: its records' own `comparison` (the suite's key), else `default`."""
    return {
        suite: next((r.comparison for r in rows if r.comparison), None) or default
        for suite, rows in records.items()
    }


def compare_variants_pairwise(
    db: Database,
    run_id: int,
    records: Mapping[str, Sequence[CaseRecord]],
    modes: Mapping[str, str],
    judging: PairJudging,
) -> dict[str, PairwiseComparison]:
    """Each later variant of a pairwise suite against the first, by judged suite name."""
    from pytest_promptopt.storage import transaction

    wanted = [
        (found[0][2], name)
        for found in variant_groups(records).values()
        for _, _, name, _ in found[1:]
        if modes.get(name) == "pairwise"
    ]
    if not wanted:
        return {}
    with transaction(db) as repos:
        cases, grouped, _ = judged_evaluations(repos, run_id)
        pairs = {
            name: pair_cases(cases, grouped.get(first, {}), grouped.get(name, {}))
            for first, name in wanted
        }
    return {
        name: judge_pairs(shared, judging, f"{name} against {first}", decision="variant")
        for (first, name), shared in zip(wanted, pairs.values(), strict=True)
    }
