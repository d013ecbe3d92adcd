"""Report data: what every report and the terminal summary is rendered from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from pytest_promptopt.evaluation.pass_rate import PassRateRequirement
from pytest_promptopt.evaluation.record import SuiteTotals
from pytest_promptopt.evaluation.results import describe_calls, truncation_note
from pytest_promptopt.evaluation.variants import SuiteVariants
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.records.finalist import Finalist
from pytest_promptopt.records.totals import Totals
from pytest_promptopt.records.trajectory import trajectory_lines
from pytest_promptopt.reporting.baseline import BaselineResult
from pytest_promptopt.reporting.verdict import SessionVerdict


class PromptSummary(BaseModel):
    """One candidate prompt judged in a run, with its place in the lineage and its scores."""

    id: int
    suite: str
    stage: str
    strategy: str | None = None
    parent_prompt_id: int | None = None
    track_id: int | None = None
    iteration: int = 0
    is_original: bool = False
    quick_score: float | None = None
    rigorous_score: float | None = None
    average_score: float | None = None
    prompt_text: str = ""
    weakness_titles: list[str] = Field(default_factory=list)
    verdict: str | None = Field(
        None, description="A refined child: kept or rejected, with its paired gain."
    )

    @property
    def best_score(self) -> float | None:
        """The most trustworthy score available: average, then rigorous, then quick."""
        for score in (self.average_score, self.rigorous_score, self.quick_score):
            if score is not None:
                return score
        return None

    @property
    def label(self) -> str:
        """A short human label such as `#12 clarity (t2 i3)`."""
        parts = [f"#{self.id}"]
        parts.append("original" if self.is_original else (self.strategy or self.stage))
        if self.track_id is not None:
            parts.append(f"(t{self.track_id} i{self.iteration})")
        return " ".join(parts)


class StageSummary(BaseModel):
    """One pipeline stage run for a suite."""

    stage: str
    status: str
    duration_s: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict)


class CaseRow(CaseRecord):
    """One case's record as shown in reports: with its category, judge reasoning and answer.

    `tool_calls` ({id, name, input}), `trajectory` and `stop_reason` are the first sample's;
    `truncated` says that an answer (of any sample) was cut at `max_tokens`.
    """

    category: str = ""
    reasoning: str = ""
    failed_assertions: list[str] = Field(default_factory=list)
    response: str = ""
    samples: int = 1
    cached: bool = False
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    trajectory: list[dict[str, Any]] | None = None
    stop_reason: str | None = None
    truncated: bool = False

    @property
    def answer_notes(self) -> list[str]:
        """What the reports say beside the answer: a cut at max_tokens, the tool calls."""
        notes = [truncation_note()] if self.truncated else []
        if self.trajectory:
            notes.extend(trajectory_lines(self.trajectory))
        elif self.tool_calls:
            notes.append("tool calls: " + describe_calls(self.tool_calls))
        return notes


class SuiteSummary(SuiteTotals):
    """One suite's totals and prompt, plus its optimization lineage and stages under --optimize."""

    prompt_id: int | None = None
    prompt_text: str = ""
    original_mean_score: float | None = None
    best_mean_score: float | None = None
    best_prompt_id: int | None = None
    stopped_by: str | None = None
    finalists: list[Finalist] = Field(
        default_factory=list, description="Feedback and held-out scores side by side."
    )
    feedback_cases: int = 0
    holdout_cases: int = 0
    split_note: str = ""
    gate_verdict: str = Field("", description="Why the best prompt may or may not be applied.")
    lineage: list[PromptSummary] = Field(default_factory=list)
    stages: list[StageSummary] = Field(default_factory=list)
    baseline: BaselineResult | None = None
    judge_agreement: dict[str, Any] | None = Field(
        None, description="The judge against people's labels (`promptopt judge-agreement`)."
    )

    def prompt(self, prompt_id: int | None) -> PromptSummary | None:
        """The lineage entry with this id, if any."""
        if prompt_id is None:
            return None
        return next((p for p in self.lineage if p.id == prompt_id), None)

    @property
    def original_prompt(self) -> PromptSummary | None:
        """The user's original prompt in the lineage, if recorded."""
        return next((p for p in self.lineage if p.is_original), None)

    @property
    def best_prompt_text(self) -> str:
        """The best prompt's text (falls back to the judged prompt)."""
        best = self.prompt(self.best_prompt_id)
        return best.prompt_text if best is not None and best.prompt_text else self.prompt_text

    def best_chain(self) -> list[PromptSummary]:
        """The ancestry of the best prompt, from the root down to the best prompt itself."""
        chain: list[PromptSummary] = []
        seen: set[int] = set()
        node = self.prompt(self.best_prompt_id)
        while node is not None and node.id not in seen:
            chain.append(node)
            seen.add(node.id)
            node = self.prompt(node.parent_prompt_id)
        return list(reversed(chain))

    @property
    def improvement(self) -> float | None:
        """Best minus original mean score, when both are known."""
        if self.original_mean_score is None or self.best_mean_score is None:
            return None
        return self.best_mean_score - self.original_mean_score


class RunReport(BaseModel):
    """Everything known about one pytest session's run."""

    run_id: int
    session_uid: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    suites: list[SuiteSummary] = Field(default_factory=list)
    cases: list[CaseRow] = Field(default_factory=list)
    variants: list[SuiteVariants] = Field(default_factory=list)
    pass_rate_gates: list[PassRateRequirement] = Field(default_factory=list)
    verdict: SessionVerdict | None = Field(
        None, description="What the session told the user at its end, in its order."
    )

    @property
    def totals(self) -> Totals:
        """Cases, outcomes, calls, cache hits, tokens and cost summed over the suites."""
        return Totals.combined(self.suites)

    @property
    def is_optimize(self) -> bool:
        """True for an --optimize run."""
        return self.mode == "optimize"

    @property
    def duration_s(self) -> float | None:
        """Wall time of the run in seconds, once finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def suite_cases(self, suite: str) -> list[CaseRow]:
        """The case rows of one suite, in report order."""
        return [c for c in self.cases if c.suite == suite]

    def problems(self) -> list[CaseRow]:
        """Failed and erroring cases, in report order."""
        return [c for c in self.cases if not c.passed or c.error is not None]
