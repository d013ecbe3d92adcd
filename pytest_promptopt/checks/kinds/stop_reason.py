"""`stop_reason: REASON`: the answer stopped for REASON (`refusal` expects a refusal)."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.checks.base import Answered, CheckKind, Figures, Nested, Outcome

STOP_REASONS: tuple[str, ...] = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
)
"""The Messages API's stop reasons."""


class StopReason(CheckKind):
    """The answer's stop reason is the one given."""

    name = "stop_reason"
    order = 110

    def parse(self, value: Any, nested: Nested) -> str:
        """One of the API's stop reasons."""
        if value not in STOP_REASONS:
            raise ValueError(f"stop_reason takes one of {', '.join(STOP_REASONS)}, got {value!r}")
        return str(value)

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the answer stopped so; else how it stopped."""
        passed = answer.stop_reason == value
        return Outcome(
            passed, "" if passed else f"stopped with {answer.stop_reason or 'no stop reason'}"
        )
