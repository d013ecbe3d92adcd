"""The held-out split, paired acceptance and errors left out of comparisons (unit level)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.optimize.context import RunContext, StoredCase
from pytest_promptopt.optimize.split import split_cases
from pytest_promptopt.optimize.stages import refinement, scoring
from pytest_promptopt.optimize.stages.refinement import Refinement, RefinementStep
from pytest_promptopt.optimize.stages.scoring import EvaluationCounts, evaluate_case
from pytest_promptopt.stats import paired_gain
from pytest_promptopt.suites.spec import Case, Suite
from tests.support.optimize import make_runtime

CATEGORIES = ["refund"] * 6 + ["delivery"] * 3 + ["safety"]


def pairs(n: int = 10) -> list[tuple[str, str]]:
    """(key, category) of `n` cases."""
    return [(f"c{i}", CATEGORIES[i % len(CATEGORIES)]) for i in range(n)]


def test_the_split_is_deterministic_for_a_seed_and_stratified() -> None:
    first = split_cases(pairs(), 0.3, seed=7)
    assert first == split_cases(pairs(), 0.3, seed=7)
    assert len(first.holdout) == 3 and len(first.feedback) == 7
    categories = dict(pairs())
    held = [categories[k] for k in first.holdout]
    assert held.count("refund") == 2 and held.count("delivery") == 1  # 0.3 x 6 and 0.3 x 3
    assert set(first.feedback) | set(first.holdout) == set(categories)
    others = {split_cases(pairs(), 0.3, seed=s).holdout for s in range(20)}
    assert len(others) > 1  # the seed matters


def test_four_cases_hold_out_one_and_fewer_hold_out_none() -> None:
    four = split_cases(pairs(4), 0.1, seed=1)
    assert len(four.holdout) == 1 and len(four.feedback) == 3
    three = split_cases(pairs(3), 0.5, seed=1)
    assert three.holdout == () and three.note.startswith("no case could be held out: 3 given")
    assert split_cases(pairs(), 0.0, seed=1).holdout == ()


def test_paired_gain_needs_its_lower_bound_above_zero() -> None:
    noisy = [0.2, -0.15, 0.1, -0.05, 0.12, -0.1, 0.08, 0.02]
    gain = paired_gain(noisy, "refinement")
    assert gain.mean > 0 and gain.low <= 0 < gain.high and not gain.significant
    clear = [0.3, 0.25, 0.35, 0.28, 0.31, 0.27]
    assert paired_gain(clear, "refinement").significant
    assert not paired_gain([0.5], "refinement").significant  # one case gives no interval


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RunContext]:
    """A run context on a six-case suite (all feedback: holdout and confirm 0), cases stored."""
    suite = Suite(
        name="paired",
        prompt="You help.",
        cases=[Case(id=f"c{i}", input=f"question {i}", expected="an answer") for i in range(6)],
    )
    runtime = make_runtime(tmp_path, holdout=0.0, confirm=0.0)
    context = RunContext.from_runtime(runtime, suite)
    context.original_prompt_id()
    context.store_given_cases()
    yield context
    runtime.dispose()


def add_prompt(ctx: RunContext, text: str, parent: int | None = None) -> int:
    """A prompt row (a refined child when it has a parent)."""
    with ctx.repos() as r:
        row = r.prompts.add(
            ctx.run_id, ctx.suite.name, text, stage="refined" if parent else "initial",
            parent_prompt_id=parent, track_id=1 if parent else None, iteration=1 if parent else 0,
        )  # fmt: skip
        return int(row.id)


def score(ctx: RunContext, prompt_id: int, scores: dict[int, float]) -> None:
    """Store one evaluation per case id with the given overall score."""
    rows = [
        {"run_id": ctx.run_id, "prompt_id": prompt_id, "test_case_id": case_id, "sample": 0}
        | {"model_response": "a", "overall_score": value, "passed": value >= 0.7}
        for case_id, value in scores.items()
    ]
    with ctx.repos() as r:
        r.evaluations.add_many(rows)


def compare(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch, parent: list[float], child: list[float]
) -> tuple[RefinementStep, int, int]:
    """Run the refinement's paired comparison of a stored parent and child."""
    case_ids = [c.id for c in ctx.cases(["given"])]
    parent_id = add_prompt(ctx, "You help.")
    child_id = add_prompt(ctx, "You help. Be precise.", parent=parent_id)
    score(ctx, parent_id, dict(zip(case_ids, parent, strict=True)))

    async def evaluated(
        _ctx: RunContext, ids: Sequence[int], cases: Sequence[StoredCase], extra: int = 0
    ) -> EvaluationCounts:
        score(ctx, ids[0], {c.id: v for c, v in zip(cases, child, strict=False)})
        return EvaluationCounts(len(cases), 0, [])

    monkeypatch.setattr(refinement, "evaluate_prompts", evaluated)
    step = RefinementStep(iteration=1, parent_prompt_id=parent_id, child_prompt_id=child_id)
    asyncio.run(Refinement()._compare(ctx, step, parent_id, child_id, case_ids))
    return step, parent_id, child_id


def test_a_child_with_a_noisy_gain_is_rejected_and_recorded_with_its_parent(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = [0.6, 0.7, 0.5, 0.8, 0.6, 0.7]
    child = [0.75, 0.6, 0.62, 0.7, 0.72, 0.66]  # +0.025 on average, up and down
    step, parent_id, child_id = compare(ctx, monkeypatch, parent, child)
    assert not step.kept
    assert step.reason.startswith("rejected: paired gain +0.025 [")
    low, mean, high = step.paired_diff
    assert low <= 0 < high and mean == pytest.approx(0.025, abs=1e-6)
    assert step.cases == 6 and step.left_out == 0
    with ctx.repos() as r:
        row = r.prompts.get(child_id)
        assert row is not None and row.parent_prompt_id == parent_id  # the lineage keeps it


def test_a_child_with_a_clear_gain_is_kept(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = [0.5, 0.55, 0.45, 0.5, 0.6, 0.4]
    child = [0.8, 0.82, 0.78, 0.85, 0.86, 0.75]
    step, _, _ = compare(ctx, monkeypatch, parent, child)
    assert step.kept and step.reason.startswith("kept: paired gain +0.")
    assert step.paired_diff[0] > 0


def test_an_errored_case_is_left_out_of_the_comparison(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The child errored on the last case (no row): both sides are compared on five cases,
    # and the parent's low score there does not count against or for anyone.
    parent = [0.5, 0.55, 0.45, 0.5, 0.6, 0.0]
    child = [0.8, 0.82, 0.78, 0.85, 0.86]
    step, _, _ = compare(ctx, monkeypatch, parent, child)
    assert step.cases == 5 and step.left_out == 1
    assert step.parent_mean == pytest.approx(0.52)
    ids = [c.id for c in ctx.cases(["given"])]
    shared, means = ctx.common_means([step.parent_prompt_id, int(step.child_prompt_id or 0)], ids)
    assert shared == ids[:5] and all(len(m) == 5 for m in means.values())


def test_an_errored_evaluation_is_retried_once(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    async def flaky(suite: Suite, text: str, case: Case, **_: Any) -> CaseResult:
        calls.append(1)
        result = CaseResult(suite=suite.name, case_id=case.id, threshold=0.7)
        if len(calls) == 1:
            result.error = "judge call for paired[c0] failed after retries: HTTP 529"
        return result

    monkeypatch.setattr(ctx.evaluator, "evaluate", flaky)
    case = ctx.cases(["given"])[0]
    result = asyncio.run(evaluate_case(ctx, 1, "You help.", case, 1))
    assert len(calls) == 2 and result.error is None
    assert result.prompt_id == 1 and result.test_case_id == case.id
    errors = scoring.errors_of([result], [case])
    assert errors == []
