"""Stage 6, `evaluate_rigorous`: the top K scored on the feedback and the rigorous cases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_promptopt.optimize.stages.evaluate_quick import EvaluateStage, EvaluationSummary
from pytest_promptopt.optimize.stages.select_top_k import SelectTopKSummary

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


class EvaluateRigorousSummary(EvaluationSummary):
    """Stage 6: the top K on the given and rigorous cases."""


class EvaluateRigorous(EvaluateStage[EvaluateRigorousSummary]):
    """Stage 6: the top K on the feedback and rigorous cases -> `rigorous_score`."""

    name = "evaluate_rigorous"
    summary_model = EvaluateRigorousSummary
    tier = "rigorous"
    score_field = "rigorous"

    def candidates(self, ctx: RunContext) -> list[int]:
        """The top K."""
        return ctx.stage_summary(SelectTopKSummary).selected or []
