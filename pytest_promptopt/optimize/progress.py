"""Progress lines on pytest's terminal: stage start/end with calls and spend so far."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.llm.budget import Budget


class _Writer(Protocol):
    def line(self, s: str = "", **markup: bool) -> None: ...


class Progress:
    """Writes one line per stage of a suite, when it ends; silent without a writer.

    The counts say what they count: the suite's pipeline so far, then the session's total.
    """

    def __init__(self, writer: _Writer | None, budget: Budget | None = None) -> None:
        self.writer = writer
        self.budget = budget
        self._suite_start: dict[str, tuple[int, float]] = {}

    def line(self, text: str, **markup: bool) -> None:
        """One line prefixed with `promptopt`."""
        if self.writer is not None:
            self.writer.line(for_terminal(f"promptopt: {text}"), **markup)

    def spent(self, suite: str | None = None) -> str:
        """`suite so far 120 calls, $0.0812; session 400 calls, $0.3001` (the suite's first)."""
        if self.budget is None:
            return ""
        session = f"session {self.budget.calls} calls, ${self.budget.spent_usd:.4f}"
        if suite is None or suite not in self._suite_start:
            return session
        calls, spent = self._suite_start[suite]
        mine = f"{suite} so far {self.budget.calls - calls} calls, "
        return f"{mine}${self.budget.spent_usd - spent:.4f}; {session}"

    def stage_start(self, suite: str, stage: str, index: int, total: int) -> None:
        """A stage begins: no line (its end says everything), but a suite's counts start."""
        if self.budget is not None and suite not in self._suite_start:
            self._suite_start[suite] = (self.budget.calls, self.budget.spent_usd)

    def stage_end(
        self, suite: str, stage: str, index: int, total: int, status: str, seconds: float, note: str
    ) -> None:
        """A stage ended (or was skipped): its one line."""
        extra = f": {note}" if note else ""
        self.line(
            f"[{suite}] {index}/{total} {stage} {status} in {seconds:.1f}s{extra} "
            f"({self.spent(suite)})",
            red=status not in ("completed", "skipped", "reused"),
        )
