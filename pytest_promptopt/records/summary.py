"""The base of every JSON object stored in `stage_results.summary`, and of each stage's model.

Writers build a model and store `to_json()`; readers parse it back with the stage's own model
(declared beside the stage in `optimize/stages/`), or with `StoredSummary` when they only show
it. A dump holds only the keys that were set, in the order they were set, the trailing timing
keys last, so stored rows and report.json keep their shape; rows written by older versions parse
with defaults for missing keys, and unknown keys are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

#: Keys every stage writes last, in this order (the pipeline adds timing after the stage's own).
_TRAILING = ("headline", "duration_s", "calls", "cost_usd")

SummaryT = TypeVar("SummaryT", bound="SummaryModel")
StageT = TypeVar("StageT", bound="StageSummaryBase")


class SummaryModel(BaseModel):
    """A JSON object stored in a `summary` column: parsed tolerantly, dumped as it was set."""

    model_config = ConfigDict(extra="ignore")

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe dict to store: only the keys that were set, timing keys last."""
        data = self.model_dump(mode="json", exclude_unset=True)
        tail = {key: data.pop(key) for key in _TRAILING if key in data}
        return {**data, **tail}

    @classmethod
    def parse(cls: type[SummaryT], data: Mapping[str, Any] | None) -> SummaryT:
        """Validate a stored summary (None or missing keys give the defaults)."""
        return cls.model_validate(dict(data or {}))


class StageProgress(BaseModel):
    """What a stage had done when it stopped early (`partial`); empty for most stages."""


class StageSummaryBase(SummaryModel):
    """The keys the pipeline adds to every stage's own: how the stage ended and what it cost."""

    #: The stage this model describes (its `stage_results.stage`), set by that stage's class.
    STAGE: ClassVar[str] = ""

    stopped_by: str | None = Field(None, description="The cap that stopped the stage.")
    error: str | None = Field(None, description="Why the stage failed or was stopped.")
    reason: str | None = Field(None, description="Why the stage was skipped.")
    headline: str = Field("", description="A short human note about a completed run.")
    duration_s: float | None = Field(None, description="Wall time of the stage, seconds.")
    calls: int | None = Field(None, description="Model calls the stage made.")
    cost_usd: float | None = Field(None, description="What those calls cost.")

    @classmethod
    def failed(
        cls: type[StageT], error: str, partial: StageProgress, stopped_by: str | None = None
    ) -> StageT:
        """The summary of a run that raised: the error, the cap if any, and its progress."""
        data: dict[str, Any] = {} if stopped_by is None else {"stopped_by": stopped_by}
        data.update(error=error, partial=partial.model_dump(mode="json", exclude_unset=True))
        return cls.model_validate(data)


class StoredSummary(StageSummaryBase):
    """Any stage's row read without its model: every stored key is kept as it was."""

    model_config = ConfigDict(extra="allow")
