"""What one suite's optimization produced, as told to the user and to the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.records.choice import BestChoice
    from pytest_promptopt.records.finalist import Finalist
    from pytest_promptopt.reporting.verdict import AppliedPrompt


@dataclass
class OptimizeOutcome:
    """A suite's original and best prompt, their scores on the given cases, and why it ended."""

    suite: str
    run_id: int
    original_prompt_id: int
    best_prompt_id: int
    best_prompt_text: str
    original_score: float | None = None
    best_score: float | None = None
    given_cases: int = 0
    original_passed: int | None = None
    best_passed: int | None = None
    best_stage: str = "initial"
    best_strategy: str | None = None
    best_track: int | None = None
    best_iteration: int = 0
    stopped_by: str | None = None
    error: str | None = None
    applied_to: Path | None = None
    report_dir: Path | None = None
    calls: int = 0
    cost_usd: float | None = 0.0
    feedback_cases: int = 0
    holdout_cases: int = 0
    split_note: str = ""
    original_feedback: float | None = None
    best_feedback: float | None = None
    original_holdout: float | None = None
    best_holdout: float | None = None
    gate_significant: bool = False
    gate_verdict: str = ""
    winner_prompt_id: int | None = None
    proven: bool = False
    decision: str = ""
    confirm_cases: int = 0
    original_confirm: float | None = None
    winner_confirm: float | None = None
    deterministic: bool | None = None
    repeat_note: str = ""
    gate_gain: list[float] = field(default_factory=list)  # [low, mean, high] of the apply gate
    errored: int = 0
    estimate_calls: int | None = None  # what the start-of-run estimate said
    estimate_cost_usd: float | None = None
    apply: AppliedPrompt | None = None  # --promptopt-apply: what it did (None without it)
    finalists: list[Finalist] = field(default_factory=list)

    @classmethod
    def from_summary(
        cls, suite: str, run_id: int, original_id: int, text: str, data: BestChoice
    ) -> OptimizeOutcome:
        """Build from the optimizer's choice (the original only when it is empty)."""
        return cls(
            suite=suite,
            run_id=run_id,
            original_prompt_id=(
                data.original_prompt_id if data.original_prompt_id is not None else original_id
            ),
            best_prompt_id=data.best_prompt_id if data.best_prompt_id is not None else original_id,
            best_prompt_text=text,
            original_score=data.original_given_score,
            best_score=data.best_given_score,
            given_cases=data.given_cases,
            original_passed=data.original_given_passed,
            best_passed=data.best_given_passed,
            best_stage=data.best_stage if data.best_stage is not None else "initial",
            best_strategy=data.best_strategy,
            best_track=data.best_track,
            best_iteration=data.best_iteration or 0,
            feedback_cases=data.feedback_cases,
            holdout_cases=data.holdout_cases,
            split_note=data.split_note,
            original_feedback=data.original_feedback_score,
            best_feedback=data.best_feedback_score,
            original_holdout=data.original_holdout_score,
            best_holdout=data.best_holdout_score,
            gate_significant=data.gate_significant,
            gate_verdict=data.gate_verdict,
            winner_prompt_id=data.winner_prompt_id,
            proven=data.proven,
            decision=data.decision,
            confirm_cases=data.confirm_cases,
            original_confirm=data.original_confirm_score,
            winner_confirm=data.winner_confirm_score,
            deterministic=data.deterministic,
            repeat_note=data.repeat_note,
            gate_gain=list(data.gate_gain),
            errored=data.errored,
            finalists=list(data.finalists),
        )

    @property
    def improved(self) -> bool:
        """True when the best prompt beats the original on the given cases."""
        return (
            self.best_prompt_id != self.original_prompt_id
            and self.original_score is not None
            and self.best_score is not None
            and self.best_score > self.original_score
        )

    def _origin(self) -> str:
        if self.best_prompt_id == self.original_prompt_id:
            return "original"
        if self.best_stage == "refined":
            return f"refined, track {self.best_track} iter {self.best_iteration}"
        return self.best_strategy or self.best_stage

    def split_scores(self) -> str:
        """`feedback 0.55 -> 0.90 (3 cases), held-out 0.60 -> 0.80 (2 cases)`."""
        feedback = _pair(self.original_feedback, self.best_feedback)
        text = f"feedback {feedback} ({_cases(self.feedback_cases)})"
        if not self.holdout_cases:
            return f"{text}; {self.split_note}" if self.split_note else text
        held = _pair(self.original_holdout, self.best_holdout)
        text = f"{text}, held-out {held} ({_cases(self.holdout_cases)})"
        if self.confirm_cases and self.winner_confirm is not None:
            confirm = _pair(self.original_confirm, self.winner_confirm)
            text += (
                f", confirmation {confirm} ({_cases(self.confirm_cases)}, "
                f"#{self.winner_prompt_id} against the original)"
            )
        return text

    def finalist_lines(self) -> list[str]:
        """One line per finalist: its feedback and held-out scores side by side."""
        lines = []
        for f in self.finalists:
            mark = " (best)" if f.prompt_id == self.best_prompt_id else ""
            held = f"held-out {_score(f.holdout)}" if self.holdout_cases else "no held-out case"
            lines.append(f"{f.label}{mark}: feedback {_score(f.feedback)}, {held}")
        return lines

    def describe(self) -> str:
        """One line, e.g. `optimized: 0.62 -> 0.84 on 8 given cases (best #12, refined, ...)`."""
        if self.original_score is None or self.best_score is None:
            text = f"not optimized: no scores (kept the original #{self.original_prompt_id})"
        else:
            text = (
                f"optimized: {self.original_score:.2f} -> {self.best_score:.2f} on "
                f"{self.given_cases} given cases (best #{self.best_prompt_id}, {self._origin()})"
            )
            if self.original_passed is not None and self.best_passed is not None:
                text += f", passing {self.original_passed} -> {self.best_passed}"
            text += f"; {self.split_scores()}"
        if self.decision:
            text += f"; {self.decision}"
        if self.deterministic:
            text += f"; {self.repeat_note}"
        if self.errored:
            text += f"; {self.errored} evaluations errored (left out of the comparisons)"
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        text += f"; pipeline {self.calls} calls, {cost}"
        if self.stopped_by:
            text += f"; stopped by {self.stopped_by}"
        if self.error:
            text += f"; stopped by an error: {self.error}"
        return text


def _score(value: float | None) -> str:
    """A score with two decimals, or a dash."""
    return "-" if value is None else f"{value:.2f}"


def _pair(before: float | None, after: float | None) -> str:
    """`0.55 -> 0.90`."""
    return f"{_score(before)} -> {_score(after)}"


def _cases(n: int) -> str:
    """`1 case`, `6 cases`."""
    return f"{n} case" if n == 1 else f"{n} cases"
