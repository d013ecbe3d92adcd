"""What the optimizer chose for a suite: the `reporting` stage's figures, which storage (the
chosen prompt), the reports and the session's outcome read."""

from __future__ import annotations

from pydantic import Field

from pytest_promptopt.records.finalist import Finalist
from pytest_promptopt.records.summary import StageProgress, SummaryModel

CHOICE_STAGE = "reporting"
"""The stage whose summary holds the choice (its `stage_results.stage`)."""


class BestChoice(SummaryModel):
    """The best prompt on the given cases, the original's figures beside it, and the finalists."""

    original_prompt_id: int | None = None
    best_prompt_id: int | None = None
    given_cases: int = 0
    finalists: list[Finalist] = Field(default_factory=list, description="Best first.")
    partial: bool | StageProgress = Field(False, description="True: selection never finished.")
    original_given_score: float | None = None
    best_given_score: float | None = None
    original_given_passed: int | None = None
    best_given_passed: int | None = None
    original_average_score: float | None = None
    best_average_score: float | None = None
    best_stage: str | None = None
    best_strategy: str | None = None
    best_track: int | None = None
    best_iteration: int | None = None
    feedback_cases: int = Field(0, description="Given cases the writers saw.")
    holdout_cases: int = Field(0, description="Given cases held out from them.")
    split_note: str = Field("", description="How the given cases were split.")
    original_feedback_score: float | None = None
    best_feedback_score: float | None = None
    original_holdout_score: float | None = None
    best_holdout_score: float | None = None
    gate_significant: bool = Field(False, description="The apply gate's verdict.")
    gate_gain: list[float] = Field(default_factory=list, description="[low, mean, high].")
    gate_verdict: str = Field("", description="The gate's decision in words.")
    winner_prompt_id: int | None = Field(None, description="The search's best (maybe unproven).")
    proven: bool = Field(False, description="The winner beat the original on confirmation.")
    decision: str = Field("", description="Why the items judge the prompt they judge.")
    confirm_cases: int = Field(0, description="Given cases kept for the final decision.")
    original_confirm_score: float | None = None
    winner_confirm_score: float | None = None
    deterministic: bool | None = Field(None, description="Repeats were byte-identical.")
    repeat_note: str = Field("", description="What the repeated samples showed.")
    errored: int = Field(0, description="Evaluations left out of comparisons: they errored.")
