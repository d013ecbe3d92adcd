"""Stage 7, `select_top_m`: the top M of the K on feedback + quick + rigorous cases combined."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_promptopt.optimize.stages.evaluate_rigorous import EvaluateRigorousSummary
from pytest_promptopt.optimize.stages.select_top_k import SelectionSummary, SelectStage

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


class SelectTopMSummary(SelectionSummary):
    """Stage 7: the top M on given + quick + rigorous cases."""


class SelectTopM(SelectStage[SelectTopMSummary]):
    """Stage 7: the top M of the K on feedback + quick + rigorous cases combined."""

    name = "select_top_m"
    summary_model = SelectTopMSummary
    source = EvaluateRigorousSummary
    tiers = ("quick", "rigorous")

    def size(self, ctx: RunContext) -> int:
        """M."""
        return ctx.knobs.top_m
