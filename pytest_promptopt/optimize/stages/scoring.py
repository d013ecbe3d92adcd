"""Scoring prompts on cases for every stage that compares them: one evaluation retried once,
many run concurrently and stored, and the failures that stay recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel

from pytest_promptopt.engine.recorder import evaluation_rows
from pytest_promptopt.errors import BudgetExceededError
from pytest_promptopt.evaluation.results import CaseResult

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext, StoredCase


class EvaluationFailure(BaseModel):
    """A recorded evaluation that still errored after its retry: left out of every comparison."""

    prompt_id: int
    case_key: str
    error: str


class EvaluationCounts(NamedTuple):
    """What one `evaluate_prompts` call did; `errors` are the evaluations still failing."""

    evaluated: int
    reused: int
    errors: list[EvaluationFailure]


def raise_if_exhausted(ctx: RunContext) -> None:
    """Turn a budget stop the evaluator swallowed into the BudgetExceededError it was."""
    if ctx.budget.exhausted:
        cap = ctx.budget.stopped_by or "max_calls"
        raise BudgetExceededError(f"stopped by the {cap} cap during evaluation", cap=cap)


def prompt_texts(ctx: RunContext, prompt_ids: Sequence[int]) -> dict[int, str]:
    """The text of each prompt id."""
    with ctx.repos() as r:
        rows = [r.prompts.get(i) for i in prompt_ids]
        return {int(p.id): p.prompt_text for p in rows if p is not None}


async def evaluate_case(
    ctx: RunContext,
    prompt_id: int,
    text: str,
    case: StoredCase,
    samples: int,
    first_sample: int = 0,
) -> CaseResult:
    """One prompt on one case, retried once when it errors (an API failure after the SDK's own
    retries); the result keeps the error when the retry fails too."""
    result = await ctx.evaluator.evaluate(
        ctx.suite, text, case.case, samples=samples, first_sample=first_sample
    )
    if result.error is not None and not ctx.budget.exhausted:
        retry = await ctx.evaluator.evaluate(
            ctx.suite, text, case.case, samples=samples, first_sample=first_sample
        )
        if retry.error is None or len(retry.samples) >= len(result.samples):
            result = retry
    result.prompt_id = prompt_id
    result.test_case_id = case.id
    return result


def errors_of(
    results: Sequence[CaseResult], cases: Sequence[StoredCase]
) -> list[EvaluationFailure]:
    """The evaluations that ended in an error, for a summary."""
    keys = {c.id: c.key for c in cases}
    return [
        EvaluationFailure(
            prompt_id=int(res.prompt_id or 0),
            case_key=keys.get(int(res.test_case_id or 0), "?"),
            error=str(res.error)[:300],
        )
        for res in results
        if res.error is not None
    ]


async def evaluate_prompts(
    ctx: RunContext, prompt_ids: Sequence[int], cases: Sequence[StoredCase], extra: int = 0
) -> EvaluationCounts:
    """Evaluate every prompt on every case not yet fully sampled, all concurrently; store rows.

    An evaluation that errors is retried once; a sample that still errors stores no row, so
    comparisons leave that case out (both sides are compared on the cases both have).
    """
    texts = prompt_texts(ctx, prompt_ids)
    jobs = []
    skipped = 0
    with ctx.repos() as r:
        done = {pid: r.evaluations.done_keys(pid) for pid in prompt_ids}
    for pid in prompt_ids:
        for case in cases:
            n = ctx.samples_for(case.case) + extra
            if all((case.id, k) in done[pid] for k in range(n)):
                skipped += 1
                continue
            jobs.append(evaluate_case(ctx, pid, texts[pid], case, n))
    results = await asyncio.gather(*jobs)
    rows = [row for res in results for row in evaluation_rows(ctx.run_id, res)]
    with ctx.repos() as r:
        r.evaluations.add_many(rows)
    raise_if_exhausted(ctx)
    return EvaluationCounts(
        evaluated=len(results), reused=skipped, errors=errors_of(results, cases)
    )
