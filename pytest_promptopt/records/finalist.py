"""A prompt that competed for best: the one finalist type the pipeline, the outcome and the
reports share."""

from __future__ import annotations

from pydantic import BaseModel, Field, computed_field


def _round(value: float | None) -> float | None:
    """A score rounded to 6 places, or None."""
    return None if value is None else round(value, 6)


class Finalist(BaseModel):
    """A prompt that competed for best, with its place in the lineage and its given-case figures.

    Stored in the `reporting` stage's summary; the reports show it with its `label`.
    """

    prompt_id: int
    stage: str
    strategy: str | None = None
    parent_prompt_id: int | None = None
    track_id: int | None = None
    iteration: int = 0
    original: bool = False
    average: float = Field(description="Mean over every case it was evaluated on.")
    covers_given: bool = Field(description="Evaluated on every given case.")
    given: float = Field(description="Mean over the given cases.")
    given_passed: int = Field(description="Given cases all of whose samples passed.")
    feedback: float | None = Field(None, description="Mean over the feedback given cases.")
    holdout: float | None = Field(None, description="Mean over the held-out given cases.")
    feedback_cases: int = Field(0, description="Feedback cases it was scored on.")
    holdout_cases: int = Field(0, description="Held-out cases it was scored on.")
    best: bool = Field(False, description="The prompt the items judge (set by the reports).")

    def rounded(self) -> Finalist:
        """The same finalist with its scores rounded to 6 places, as stored."""
        update: dict[str, float | None] = {
            "average": round(self.average, 6),
            "given": round(self.given, 6),
            "feedback": _round(self.feedback),
            "holdout": _round(self.holdout),
        }
        return self.model_copy(update=update)

    @property
    def origin(self) -> str:
        """`original`, `concise` or `refined from #5 (persona, track 1 iter 2)`: the
        pipeline's own names (the writer's wording is the candidate's description)."""
        if self.original:
            return "original"
        if self.stage == "refined":
            parent = f" from #{self.parent_prompt_id}" if self.parent_prompt_id is not None else ""
            strategy = self.strategy or self.stage
            return f"refined{parent} ({strategy}, track {self.track_id} iter {self.iteration})"
        return self.strategy or self.stage

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """`#12 refined from #5 (persona, track 1 iter 2)`, `#3 concise` or `#1 original`."""
        return f"#{self.prompt_id} {self.origin}"
