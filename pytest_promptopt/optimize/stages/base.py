"""The stage interface the pipeline runs: each stage names itself and declares its summary."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pytest_promptopt.records.summary import StageProgress, StageSummaryBase

if TYPE_CHECKING:
    from pytest_promptopt.optimize.context import RunContext

SummaryT = TypeVar("SummaryT", bound=StageSummaryBase)


class Stage(ABC, Generic[SummaryT]):
    """One pipeline step; reads and writes through the repositories and returns its summary.

    A concrete stage sets `name` (its `stage_results.stage`, written only here) and
    `summary_model`, the model of its summary declared beside it; the model learns its
    stage's name from it (`STAGE`), so `RunContext.stage_summary(model)` finds the row.
    """

    name: ClassVar[str] = ""
    summary_model: type[SummaryT]
    #: Derived stages make no model calls and are recomputed on every run, even after a stop.
    derived: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            model = cls.__dict__.get("summary_model")
            if model is None or model.STAGE not in ("", cls.name):
                raise TypeError(f"stage {cls.name!r} needs a summary model of its own")
            model.STAGE = cls.name

    def __init__(self) -> None:
        self.partial: StageProgress = StageProgress()

    @abstractmethod
    async def run(self, ctx: RunContext) -> SummaryT:
        """Do the stage's work and return its summary (a `summary_model`)."""

    def headline(self, summary: StageSummaryBase) -> str:
        """A short human note about a finished run of this stage."""
        return summary.headline
