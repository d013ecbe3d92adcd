"""What a check kind is (one class: validate, run, describe) and what it reads of an answer."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class Outcome:
    """Whether a check passed, and what it found (shown in the failure, stored)."""

    passed: bool
    detail: str = ""


class Answered(Protocol):
    """What checks read of an answer (`evaluation.answer.Answer`)."""

    @property
    def text(self) -> str: ...
    @property
    def stop_reason(self) -> str | None: ...
    @property
    def tool_calls(self) -> tuple[dict[str, Any], ...]: ...
    @property
    def trajectory(self) -> tuple[dict[str, Any], ...] | None: ...
    def calls_of(self, name: str) -> list[dict[str, Any]]: ...
    def called(self) -> list[str]: ...
    def final(self) -> Answered: ...


class Figures(Protocol):
    """What checks on the call read of its figures (`records.totals.Usage`)."""

    @property
    def cache_hits(self) -> int: ...
    @property
    def call_cost_usd(self) -> float | None: ...
    @property
    def call_latency_ms(self) -> float: ...


class Checked(Protocol):
    """A check as a suite wrote it (`checks.spec.AssertionSpec`): its kind, value, options."""

    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def threshold(self) -> float: ...
    @property
    def step(self) -> int | None: ...
    @property
    def order(self) -> str | None: ...
    def expected(self) -> str: ...
    def describe(self) -> str: ...
    def python_checks(self) -> list[str]: ...
    def found(self, outcome: Outcome, answer: Answered) -> str: ...


class CheckRun(Protocol):
    """What the evaluator gives a running check: the call's figures, the team's code, nesting."""

    @property
    def figures(self) -> Figures: ...
    async def call_python(self, import_path: str, answer: Answered) -> Any: ...
    async def run(self, spec: Any, answer: Answered) -> Outcome: ...


Nested = Callable[[Any], Any]
"""Parses a check written inside another (`not`), raising ValueError."""


class CheckKind:
    """One kind of check: its suite key, how its value is validated, run and shown.

    A kind is a subclass in a module of `checks/kinds/` that sets `name`; `order` places it
    in the lists of allowed kinds. A plain kind implements `check`; one that needs the team's
    code or another check (`python`, `not`) implements `run`.
    """

    name: ClassVar[str]
    order: ClassVar[int] = 1000
    """Its place in the lists of allowed kinds (default: after the built-ins)."""
    options: ClassVar[frozenset[str]] = frozenset()
    """The check options it takes beside `weight` (`min` for `python`, `step`, `order`)."""

    def parse(self, value: Any, nested: Nested) -> Any:
        """The value as the check keeps it; ValueError saying what the kind takes."""
        return value

    def check(self, value: Any, answer: Answered, figures: Figures) -> Outcome:
        """The outcome on one answer (a plain kind: no code of the team's, no nesting)."""
        raise TypeError(f"{self.name} checks need the evaluator: run them with run_check")

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """The outcome on one answer, with what the evaluator gives (default: `check`)."""
        return self.check(spec.value, answer, context.figures)

    def expected(self, value: Any) -> str:
        """How its expectation is shown in results (default: the value's repr)."""
        return repr(value)

    def describe(self, value: Any) -> str:
        """Short human form, e.g. `contains 'refund'`."""
        return f"{self.name} {value!r}"

    def found(self, value: Any, outcome: Outcome, answer: Answered) -> str:
        """What a negated check found when it held (default: its detail)."""
        return outcome.detail or "it held"

    def python_checks(self, value: Any) -> list[str]:
        """The import paths of the `python` checks in it."""
        return []


class StringCheck(CheckKind):
    """A kind whose value is one non-empty string (`what` says which, in its errors)."""

    what: ClassVar[str] = "a non-empty string"

    def parse(self, value: Any, nested: Nested) -> str:
        """A non-empty string."""
        return non_empty_string(self.name, value, self.what)


class LimitCheck(CheckKind):
    """A kind whose value is one positive, finite limit (a latency, a cost)."""

    def parse(self, value: Any, nested: Nested) -> float:
        """A positive, finite number."""
        return positive_number(self.name, value)


def non_empty_string(kind: str, value: Any, what: str = "a non-empty string") -> str:
    """`value` when it is a non-empty string, else ValueError naming the kind."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} takes {what}, got {value!r}")
    return value


def positive_number(kind: str, value: Any) -> float:
    """`value` when it is a positive, finite number, else ValueError naming the kind."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{kind} takes a positive, finite number, got {value!r}")
    return value


def cached_note(figures: Figures) -> str:
    """` (recorded with the cached answer)` for a cached answer's figures, else ''."""
    return " (recorded with the cached answer)" if figures.cache_hits else ""


def flags(value: Any, allowed: tuple[str, ...], kind: str) -> dict[str, bool]:
    """The true/false options of a kind's mapping form, each one of `allowed`."""
    for key in value:
        if key not in allowed:
            raise ValueError(f"{kind} has no option {key!r}; allowed: {', '.join(allowed)}")
    out = {key: value.get(key, False) for key in allowed}
    for key, flag in out.items():
        if not isinstance(flag, bool):
            raise ValueError(f"{kind}.{key} takes true or false, got {flag!r}")
    return out


def calls_detail(answer: Answered) -> str:
    """`calls: a, b` or `no tool calls`."""
    names = answer.called()
    return f"calls: {', '.join(names)}" if names else "no tool calls"
