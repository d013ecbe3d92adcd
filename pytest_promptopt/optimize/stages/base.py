"""The stage interface the pipeline runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from pytest_promptopt.storage.stage_summaries import StageProgress, StageSummaryBase

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext


class Stage(ABC):
    """One pipeline step; reads and writes through the repositories and returns a summary."""

    name: str = ""
    #: Derived stages make no model calls and are recomputed on every run, even after a stop.
    derived: bool = False

    def __init__(self) -> None:
        self.partial: StageProgress = StageProgress()

    @abstractmethod
    async def run(self, ctx: RunContext) -> StageSummaryBase:
        """Do the stage's work and return its summary (the model `SUMMARY_MODELS[name]`)."""

    def headline(self, summary: StageSummaryBase) -> str:
        """A short human note about a finished run of this stage."""
        return summary.headline
