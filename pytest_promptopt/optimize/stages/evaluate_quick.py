"""Stage 3, `evaluate_quick`: every candidate scored on the feedback and the quick cases; and
the evaluation stage both tiers share, with its summary model."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from pydantic import Field

from pytest_promptopt.optimize.stages.base import Stage
from pytest_promptopt.optimize.stages.generation import GeneratePromptsSummary
from pytest_promptopt.optimize.stages.scoring import EvaluationFailure, evaluate_prompts
from pytest_promptopt.records.summary import StageProgress, StageSummaryBase

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


class EvaluationProgress(StageProgress):
    """How much an evaluation stage set out to do."""

    prompts: int = Field(0, description="Prompts to evaluate.")
    cases: int = Field(0, description="Cases each is evaluated on.")


class EvaluationSummary(StageSummaryBase):
    """Stages 3 and 6: prompts scored on the given cases plus one generated tier."""

    evaluated: int = Field(0, description="Prompt x case evaluations run.")
    reused: int = Field(0, description="Ones skipped because they were fully sampled already.")
    errors: int = Field(0, description="Evaluations that ended in an error.")
    errored: list[EvaluationFailure] = Field(
        default_factory=list, description="Which ones, left out of the comparisons."
    )
    prompt_ids: list[int] = Field(default_factory=list, description="The prompts scored.")
    case_ids: list[int] = Field(default_factory=list, description="The cases they were scored on.")
    scores: dict[str, float] = Field(default_factory=dict, description="Prompt id -> mean score.")
    partial: EvaluationProgress = Field(default_factory=EvaluationProgress)


EvaluationT = TypeVar("EvaluationT", bound=EvaluationSummary)


class EvaluateStage(Stage[EvaluationT]):
    """Scores prompts on the given cases plus one generated tier."""

    tier: ClassVar[str] = ""
    score_field: ClassVar[str] = ""

    def candidates(self, ctx: RunContext) -> list[int]:
        """The prompts to evaluate, from the stage before."""
        raise NotImplementedError

    async def run(self, ctx: RunContext) -> EvaluationT:
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


class EvaluateQuickSummary(EvaluationSummary):
    """Stage 3: every candidate on the given and quick cases."""


class EvaluateQuick(EvaluateStage[EvaluateQuickSummary]):
    """Stage 3: every candidate on the feedback and quick cases -> `quick_score`."""

    name = "evaluate_quick"
    summary_model = EvaluateQuickSummary
    tier = "quick"
    score_field = "quick"

    def candidates(self, ctx: RunContext) -> list[int]:
        """Every generated candidate."""
        return ctx.stage_summary(GeneratePromptsSummary).prompt_ids
