"""Progress lines on pytest's terminal: stage start/end with calls and spend so far."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.llm.budget import Budget


class _Writer(Protocol):
    def line(self, s: str = "", **markup: bool) -> None: ...


class Progress:
    """Writes one line per event to a terminal writer; silent without one."""

    def __init__(self, writer: _Writer | None, budget: Budget | None = None) -> None:
        self.writer = writer
        self.budget = budget

    def line(self, text: str, **markup: bool) -> None:
        """One line prefixed with `promptopt`."""
        if self.writer is not None:
            self.writer.line(for_terminal(f"promptopt: {text}"), **markup)

    def spent(self) -> str:
        """Calls and dollars so far."""
        if self.budget is None:
            return ""
        return f"{self.budget.calls} calls, ${self.budget.spent_usd:.4f}"

    def stage_start(self, suite: str, stage: str, index: int, total: int) -> None:
        """A stage begins."""
        self.line(f"[{suite}] {index}/{total} {stage} ... ({self.spent()})")

    def stage_end(
        self, suite: str, stage: str, index: int, total: int, status: str, seconds: float, note: str
    ) -> None:
        """A stage ended (or was skipped)."""
        extra = f": {note}" if note else ""
        self.line(
            f"[{suite}] {index}/{total} {stage} {status} in {seconds:.1f}s{extra} ({self.spent()})",
            red=status not in ("completed", "skipped", "reused"),
        )
