"""Stages 4 and 7: noise-aware top-K and top-M selection, re-sampling ties at the cut."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_promptopt.optimize.repeats import check_repeats
from pytest_promptopt.optimize.selection import Scored, Selection, select_top, stable_seed
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.evaluation import evaluate_prompts
from pytest_promptopt.storage.stage_summaries import (
    EvaluateQuickSummary,
    EvaluateRigorousSummary,
    EvaluationSummary,
    SelectionProgress,
    SelectionRecord,
    SelectionSummary,
    SelectTopKSummary,
    SelectTopMSummary,
)

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext, StoredCase


def scored_on_common_cases(
    ctx: RunContext, ids: Sequence[int], case_ids: Sequence[int]
) -> tuple[list[int], list[Scored]]:
    """The cases every candidate was scored on (an errored case is left out for all), and each
    candidate's means on them."""
    with ctx.repos() as r:
        original = {
            int(p.id)
            for p in r.prompts.for_suite(ctx.run_id, ctx.suite.name)
            if p.is_original_system_prompt
        }
    shared, means = ctx.common_means(ids, case_ids)
    return shared, [Scored(i, tuple(means[i]), i in original) for i in ids]


class _SelectStage(Stage):
    """Ranks prompts by mean with bootstrap intervals; ties at the cut get more samples."""

    source: type[EvaluationSummary] = EvaluationSummary
    summary_model: type[SelectionSummary] = SelectionSummary
    tiers: tuple[str, ...] = ()

    def size(self, ctx: RunContext) -> int:
        """How many candidates to keep."""
        raise NotImplementedError

    def _scored(self, ctx: RunContext, ids: list[int], cases: list[StoredCase]) -> list[Scored]:
        """Each candidate's per-case means on the cases every candidate was scored on."""
        return scored_on_common_cases(ctx, ids, [c.id for c in cases])[1]

    async def run(self, ctx: RunContext) -> SelectionSummary:
        """Select, re-sample a tie that straddles the cut once, then select again."""
        ids = ctx.stage_summary(self.source).prompt_ids
        cases = ctx.writer_cases(self.tiers)
        k = self.size(ctx)
        seed = stable_seed(ctx.suite.name, self.name)
        first = select_top(self._scored(ctx, ids, cases), k, seed=seed)
        final: Selection = first
        resampled: list[int] = []
        known = check_repeats(ctx, ids) if first.contested else None
        if first.contested and known is not None and known.deterministic:
            first.reasoning.insert(
                0,
                f"not re-sampling the tie: {known.note()}; another sample would be the same answer",
            )
        elif first.contested:
            resampled = first.contested
            self.partial = SelectionProgress(
                first=SelectionRecord.model_validate(first.as_dict()), resampling=resampled
            )
            await evaluate_prompts(ctx, resampled, cases, extra=1)
            final = select_top(self._scored(ctx, ids, cases), k, seed=seed)
            final.reasoning.insert(
                0, f"re-sampled {len(resampled)} tied candidates with one extra sample per case"
            )
            if check_repeats(ctx, resampled).deterministic:
                final.reasoning.insert(
                    1,
                    "the extra samples were byte-identical to the first (a deterministic "
                    "backend): they added no evidence, each case still counts once",
                )
            if final.contested:
                final.reasoning.append(
                    "still tied after re-sampling: the original goes first, the rest by mean "
                    "(a tie-break only, the difference is within noise)"
                )
        before = SelectionRecord.model_validate(first.as_dict()) if resampled else None
        return self.summary_model(
            **final.as_dict(),
            k=k,
            case_ids=[c.id for c in cases],
            resampled=resampled,
            before_resampling=before,
            headline=f"kept {', '.join(f'#{i}' for i in final.selected)} of {len(ids)}"
            + (f" (re-sampled {len(resampled)} tied)" if resampled else ""),
        )


class SelectTopK(_SelectStage):
    """Stage 4: the top K candidates on feedback + quick cases."""

    name = "select_top_k"
    source = EvaluateQuickSummary
    summary_model = SelectTopKSummary
    tiers = ("quick",)

    def size(self, ctx: RunContext) -> int:
        """K."""
        return ctx.knobs.top_k


class SelectTopM(_SelectStage):
    """Stage 7: the top M of the K on feedback + quick + rigorous cases combined."""

    name = "select_top_m"
    source = EvaluateRigorousSummary
    summary_model = SelectTopMSummary
    tiers = ("quick", "rigorous")

    def size(self, ctx: RunContext) -> int:
        """M."""
        return ctx.knobs.top_m
