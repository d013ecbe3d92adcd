"""Stages 3 and 6, and the evaluation helper every stage that scores prompts uses.

They score candidates on the feedback cases (given, not held out) plus one generated tier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from pytest_promptopt.engine.recorder import evaluation_rows
from pytest_promptopt.errors import BudgetExceededError
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.storage.stage_summaries import (
    EvaluateQuickSummary,
    EvaluateRigorousSummary,
    EvaluationError,
    EvaluationProgress,
    EvaluationSummary,
    GeneratePromptsSummary,
    SelectTopKSummary,
)

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext, StoredCase


class EvaluationCounts(NamedTuple):
    """What one `evaluate_prompts` call did; `errors` are the evaluations still failing."""

    evaluated: int
    reused: int
    errors: list[EvaluationError]


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


def errors_of(results: Sequence[CaseResult], cases: Sequence[StoredCase]) -> list[EvaluationError]:
    """The evaluations that ended in an error, for a summary."""
    keys = {c.id: c.key for c in cases}
    return [
        EvaluationError(
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


class _EvaluateStage(Stage):
    """Scores prompts on the given cases plus one generated tier."""

    tier = ""
    score_field = ""
    summary_model: type[EvaluationSummary] = EvaluationSummary

    def candidates(self, ctx: RunContext) -> list[int]:
        """The prompts to evaluate, from the stage before."""
        raise NotImplementedError

    async def run(self, ctx: RunContext) -> EvaluationSummary:
        """Evaluate the chosen prompts and store each one's mean as its tier score."""
        prompt_ids = self.candidates(ctx)
        cases = ctx.writer_cases([self.tier])
        self.partial = EvaluationProgress(prompts=len(prompt_ids), cases=len(cases))
        counts = await evaluate_prompts(ctx, prompt_ids, cases)
        scores = {pid: ctx.mean_score(pid, [c.id for c in cases]) for pid in prompt_ids}
        with ctx.repos() as r:
            for pid, score in scores.items():
                r.prompts.set_scores(pid, **{self.score_field: score})
        best = max(scores.values(), default=0.0)
        return self.summary_model(
            evaluated=counts.evaluated,
            reused=counts.reused,
            errors=len(counts.errors),
            errored=counts.errors,
            prompt_ids=prompt_ids,
            case_ids=[c.id for c in cases],
            scores={str(pid): round(s, 6) for pid, s in scores.items()},
            headline=f"{len(prompt_ids)} prompts x {len(cases)} cases, best {best:.2f}",
        )


class EvaluateQuick(_EvaluateStage):
    """Stage 3: every candidate on the feedback and quick cases -> `quick_score`."""

    name = "evaluate_quick"
    tier = "quick"
    score_field = "quick"
    summary_model = EvaluateQuickSummary

    def candidates(self, ctx: RunContext) -> list[int]:
        """Every generated candidate."""
        return ctx.stage_summary(GeneratePromptsSummary).prompt_ids


class EvaluateRigorous(_EvaluateStage):
    """Stage 6: the top K on the feedback and rigorous cases -> `rigorous_score`."""

    name = "evaluate_rigorous"
    tier = "rigorous"
    score_field = "rigorous"
    summary_model = EvaluateRigorousSummary

    def candidates(self, ctx: RunContext) -> list[int]:
        """The top K."""
        return ctx.stage_summary(SelectTopKSummary).selected or []
