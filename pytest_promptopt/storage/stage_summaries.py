"""The shape of `stage_results.summary`: one pydantic model per optimize pipeline stage.

Writers build a model and store `to_json()`; readers go through `parse_summary` (or a model's
`parse`) and attribute access. A dump holds only the keys that were set, in the order the
pipeline has always written them, so stored rows and report.json keep their exact shape; rows
written by older versions parse with defaults for missing keys, and unknown keys are ignored.
This module imports only pydantic and the standard library.
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
    """A JSON object stored in `stage_results.summary`: parsed tolerantly, dumped as it was set."""

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

    #: The stage name this model describes (its `stage_results.stage`).
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


class RejectedPrompt(BaseModel):
    """A generated candidate left out because it dropped or invented a template placeholder."""

    strategy: str
    reason: str


class SplitRecord(BaseModel):
    """The given cases' split: writers see `feedback`; `holdout` chooses the best; `confirm`
    decides whether it replaces the original."""

    feedback: list[str] = Field(default_factory=list, description="Case keys writers see.")
    holdout: list[str] = Field(default_factory=list, description="Case keys held out.")
    confirm: list[str] = Field(default_factory=list, description="Confirmation case keys.")
    note: str = Field("", description="How it was split, or why nothing was held out.")
    confirm_note: str = Field("", description="The confirmation split, or why there is none.")


class GeneratePromptsSummary(StageSummaryBase):
    """Stage 1: the original plus the generated candidates."""

    STAGE: ClassVar[str] = "generate_prompts"

    split: SplitRecord | None = Field(None, description="The held-out split of the given cases.")
    original_prompt_id: int | None = Field(None, description="The suite's own prompt.")
    prompt_ids: list[int] = Field(default_factory=list, description="Candidates, original first.")
    strategies: list[str] = Field(default_factory=list, description="The strategies asked for.")
    descriptions: dict[str, str] = Field(
        default_factory=dict, description="Prompt id -> the writer's own words for its strategy."
    )
    requested: int = Field(0, description="Candidates asked of the generator.")
    generated: int = Field(0, description="Distinct candidates it returned.")
    rejected: list[RejectedPrompt] = Field(
        default_factory=list, description="Candidates that changed the template's placeholders."
    )
    partial: StageProgress = Field(default_factory=StageProgress, description="Always empty.")


class GenerateTestsSummary(StageSummaryBase):
    """Stages 2 and 5: the generated cases of one tier."""

    tier: str = Field("", description="`quick` or `rigorous`.")
    requested: int = Field(0, description="Cases asked of the generator.")
    case_keys: list[str] = Field(default_factory=list, description="Stored case keys, by id.")
    given_cases: int = Field(0, description="The suite's own cases.")
    categories: dict[str, int] = Field(default_factory=dict, description="Cases per category.")
    dropped: list[dict[str, str]] = Field(
        default_factory=list,
        description="Generated cases not stored: {case_key, reason} (they cannot be rendered).",
    )
    partial: StageProgress = Field(default_factory=StageProgress, description="Always empty.")


class GenerateTestsQuickSummary(GenerateTestsSummary):
    """Stage 2: typical cases."""

    STAGE: ClassVar[str] = "generate_tests_quick"


class GenerateTestsRigorousSummary(GenerateTestsSummary):
    """Stage 5: hard cases."""

    STAGE: ClassVar[str] = "generate_tests_rigorous"


class EvaluationProgress(StageProgress):
    """How much an evaluation stage set out to do."""

    prompts: int = Field(0, description="Prompts to evaluate.")
    cases: int = Field(0, description="Cases each is evaluated on.")


class EvaluationError(BaseModel):
    """An evaluation that still errored after its retry: left out of every comparison."""

    prompt_id: int
    case_key: str
    error: str


class EvaluationSummary(StageSummaryBase):
    """Stages 3 and 6: prompts scored on the given cases plus one generated tier."""

    evaluated: int = Field(0, description="Prompt x case evaluations run.")
    reused: int = Field(0, description="Ones skipped because they were fully sampled already.")
    errors: int = Field(0, description="Evaluations that ended in an error.")
    errored: list[EvaluationError] = Field(
        default_factory=list, description="Which ones, left out of the comparisons."
    )
    prompt_ids: list[int] = Field(default_factory=list, description="The prompts scored.")
    case_ids: list[int] = Field(default_factory=list, description="The cases they were scored on.")
    scores: dict[str, float] = Field(default_factory=dict, description="Prompt id -> mean score.")
    partial: EvaluationProgress = Field(default_factory=EvaluationProgress)


class EvaluateQuickSummary(EvaluationSummary):
    """Stage 3: every candidate on the given and quick cases."""

    STAGE: ClassVar[str] = "evaluate_quick"


class EvaluateRigorousSummary(EvaluationSummary):
    """Stage 6: the top K on the given and rigorous cases."""

    STAGE: ClassVar[str] = "evaluate_rigorous"


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


class SelectTopKSummary(SelectionSummary):
    """Stage 4: the top K on given + quick cases."""

    STAGE: ClassVar[str] = "select_top_k"


class SelectTopMSummary(SelectionSummary):
    """Stage 7: the top M on given + quick + rigorous cases."""

    STAGE: ClassVar[str] = "select_top_m"


class RefinementStep(BaseModel):
    """One analyse -> refine -> paired re-evaluation step of a track."""

    iteration: int = 0
    parent_prompt_id: int = 0
    failures: int = Field(0, description="Failing cases of the parent.")
    kept: bool = Field(
        False, description="The child's paired gain over its parent is significant; it continues."
    )
    child_prompt_id: int | None = None
    parent_mean: float | None = None
    child_mean: float | None = None
    paired_diff: list[float] = Field(default_factory=list, description="[low, mean, high].")
    cases: int = Field(0, description="Cases both were compared on.")
    left_out: int = Field(0, description="Cases left out: one side errored on them.")
    errors: list[EvaluationError] = Field(default_factory=list, description="The child's errors.")
    reason: str = Field("", description="Why the step kept or rejected the child.")


class RefinementTrack(BaseModel):
    """One refinement track from a top-M prompt."""

    track_id: int
    start_prompt_id: int
    final_prompt_id: int
    iterations: list[RefinementStep] = Field(default_factory=list)


class RefinementProgress(StageProgress):
    """The tracks as far as they got."""

    tracks: list[RefinementTrack] = Field(default_factory=list)


class RefinementSummary(StageSummaryBase):
    """Stage 8: every track and the children it kept."""

    STAGE: ClassVar[str] = "refinement"

    tracks: list[RefinementTrack] = Field(default_factory=list)
    kept_prompt_ids: list[int] = Field(default_factory=list, description="Improving children.")
    final_prompt_ids: list[int] = Field(default_factory=list, description="Each track's last.")
    partial: RefinementProgress = Field(default_factory=RefinementProgress)


class SelectBestSummary(StageSummaryBase):
    """Stage 9: the search's best on the selection cases, its confirmation and the decision."""

    STAGE: ClassVar[str] = "select_best"

    split: SplitRecord = Field(default_factory=SplitRecord)
    finalist_ids: list[int] = Field(default_factory=list, description="Original, top M, kept.")
    case_ids: list[int] = Field(default_factory=list, description="Selection cases compared on.")
    winner_prompt_id: int | None = Field(None, description="The search's best; ties: original.")
    chosen_prompt_id: int | None = Field(
        None, description="The prompt the items judge: the winner only when it is proven."
    )
    selection: SelectionRecord | None = Field(None, description="The tiering on selection cases.")
    holdout_scores: dict[str, float] = Field(
        default_factory=dict, description="Prompt id -> mean on the selection cases."
    )
    selection_gain: list[float] = Field(
        default_factory=list, description="Winner minus original there: [low, mean, high]."
    )
    confirm_case_ids: list[int] = Field(default_factory=list, description="Confirmation cases.")
    confirm_scores: dict[str, float | None] = Field(
        default_factory=dict, description="Winner and original: mean on the confirmation cases."
    )
    winners_curse: float | None = Field(
        None, description="The winner's selection mean minus its confirmation mean."
    )
    gain: list[float] = Field(
        default_factory=list, description="The decision: confirmation gain [low, mean, high]."
    )
    gate_cases: int = Field(0, description="Confirmation cases the decision compared on.")
    significant: bool = Field(False, description="The winner is proven: the apply rule holds.")
    verdict: str = Field("", description="The apply rule's result in words, with the interval.")
    decision: str = Field(
        "", description="`replaced the original: ...` or `kept the original: <reason>`."
    )
    deterministic: bool | None = Field(
        None, description="Repeated samples were byte-identical (None: no repeat to tell by)."
    )
    repeat_note: str = Field("", description="What the repeated samples showed.")
    errored: list[EvaluationError] = Field(
        default_factory=list, description="Evaluations left out of the comparison."
    )
    partial: StageProgress = Field(default_factory=StageProgress, description="Always empty.")


class Finalist(BaseModel):
    """A prompt that competed for best, with its given-case figures."""

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

    def rounded(self) -> Finalist:
        """The same finalist with its scores rounded to 6 places, as stored."""
        update: dict[str, float | None] = {
            "average": round(self.average, 6),
            "given": round(self.given, 6),
            "feedback": None if self.feedback is None else round(self.feedback, 6),
            "holdout": None if self.holdout is None else round(self.holdout, 6),
        }
        return self.model_copy(update=update)


class ReportingSummary(StageSummaryBase):
    """Stage 9: the best prompt on the given cases, and the original's figures beside it."""

    STAGE: ClassVar[str] = "reporting"

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


class SaveReportsSummary(StageSummaryBase):
    """Stage 10: the files written for the best prompt."""

    STAGE: ClassVar[str] = "save_reports"

    best_prompt_id: int | None = None
    best_prompt_path: str = ""
    lineage_path: str = ""
    prompts: int = Field(0, description="Prompts in the lineage file.")
    partial: StageProgress = Field(default_factory=StageProgress, description="Always empty.")


class OtherStageSummary(StageSummaryBase):
    """A row of a stage this version does not know: every stored key is kept as it was."""

    model_config = ConfigDict(extra="allow")


class ClaimSummary(SummaryModel):
    """The xdist claim row (`pipeline_owner`): who runs a suite's pipeline, and its outcome."""

    worker: str | None = None
    heartbeat: float | None = Field(None, description="The owner's last sign of life (epoch s).")
    best_prompt_id: int | None = Field(None, description="Set on release; None: it failed.")


SUMMARY_MODELS: dict[str, type[StageSummaryBase]] = {
    model.STAGE: model
    for model in (
        GeneratePromptsSummary,
        GenerateTestsQuickSummary,
        EvaluateQuickSummary,
        SelectTopKSummary,
        GenerateTestsRigorousSummary,
        EvaluateRigorousSummary,
        SelectTopMSummary,
        RefinementSummary,
        SelectBestSummary,
        ReportingSummary,
        SaveReportsSummary,
    )
}


def summary_model(stage: str) -> type[StageSummaryBase]:
    """The model of a stage's summary (`OtherStageSummary` for a stage not in the registry)."""
    return SUMMARY_MODELS.get(stage, OtherStageSummary)


def parse_summary(stage: str, data: Mapping[str, Any] | None) -> StageSummaryBase:
    """Validate the stored summary of `stage` into its model."""
    return summary_model(stage).parse(data)
