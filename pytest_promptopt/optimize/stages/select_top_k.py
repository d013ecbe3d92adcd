"""Stage 4, `select_top_k`: the top K candidates on feedback + quick cases; and the
noise-aware selection both cuts share (ties at the cut re-sampled), with its summary model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, TypeVar

from pydantic import BaseModel, Field

from pytest_promptopt.optimize.repeats import check_repeats
from pytest_promptopt.optimize.selection import Scored, Selection, select_top, stable_seed
from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.evaluate_quick import EvaluateQuickSummary, EvaluationSummary
from pytest_promptopt.optimize.stages.scoring import evaluate_prompts
from pytest_promptopt.records.summary import StageProgress, StageSummaryBase

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext, StoredCase


class RankedPrompt(BaseModel):
    """One candidate in a selection's ranking, with its bootstrap interval."""

    prompt_id: int
    mean: float
    low: float
    high: float
    tier: int = Field(description="Its tie tier, 0 for the leaders.")
    original: bool
    cases: int = Field(description="Cases its mean is over.")


class SelectionRecord(BaseModel):
    """One selection: the chosen ids, the ranking, the tie tiers and why."""

    selected: list[int] | None = Field(None, description="Chosen ids (None: never completed).")
    ranking: list[RankedPrompt] = Field(default_factory=list)
    tiers: list[list[int]] = Field(default_factory=list)
    contested: list[int] = Field(default_factory=list, description="The tie at the cut, if any.")
    reasoning: list[str] = Field(default_factory=list)


class SelectionProgress(StageProgress):
    """A selection stopped while re-sampling a tie at the cut."""

    first: SelectionRecord | None = Field(None, description="The selection before re-sampling.")
    resampling: list[int] = Field(default_factory=list, description="The tied ids re-sampled.")


class SelectionSummary(SelectionRecord, StageSummaryBase):
    """Stages 4 and 7: the final selection and what led to it."""

    k: int = Field(0, description="How many were kept.")
    case_ids: list[int] = Field(default_factory=list, description="The cases ranked on.")
    resampled: list[int] = Field(default_factory=list, description="Tied ids given a sample more.")
    before_resampling: SelectionRecord | None = Field(None, description="The first selection.")
    partial: SelectionProgress = Field(default_factory=SelectionProgress)


SelectionT = TypeVar("SelectionT", bound=SelectionSummary)


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


class SelectStage(Stage[SelectionT]):
    """Ranks prompts by mean with bootstrap intervals; ties at the cut get more samples."""

    source: ClassVar[type[EvaluationSummary]] = EvaluationSummary
    tiers: ClassVar[tuple[str, ...]] = ()

    def size(self, ctx: RunContext) -> int:
        """How many candidates to keep."""
        raise NotImplementedError

    def _scored(self, ctx: RunContext, ids: list[int], cases: list[StoredCase]) -> list[Scored]:
        """Each candidate's per-case means on the cases every candidate was scored on."""
        return scored_on_common_cases(ctx, ids, [c.id for c in cases])[1]

    async def run(self, ctx: RunContext) -> SelectionT:
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


class SelectTopKSummary(SelectionSummary):
    """Stage 4: the top K on given + quick cases."""


class SelectTopK(SelectStage[SelectTopKSummary]):
    """Stage 4: the top K candidates on feedback + quick cases."""

    name = "select_top_k"
    summary_model = SelectTopKSummary
    source = EvaluateQuickSummary
    tiers = ("quick",)

    def size(self, ctx: RunContext) -> int:
        """K."""
        return ctx.knobs.top_k
