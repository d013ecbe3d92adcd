"""Runs a case's checks on an answer: each by its kind (`checks/kinds/`), the team's `python`
functions through their bounded runner, and the results as stored.

Text checks read the answer's text only; tool inputs are checked with `tool_input`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_promptopt.checks.base import Answered, Outcome
from pytest_promptopt.checks.spec import AssertionSpec
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import OwnCode
from pytest_promptopt.evaluation.python_checks import call_python
from pytest_promptopt.evaluation.results import AssertionResult
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.suites.spec import Case

_DEFAULT_CODE = OwnCode()


@dataclass(frozen=True)
class _Run:
    """What a running check gets: the case, the call's figures, the team's code runner."""

    case: Case
    figures: Usage
    code: OwnCode

    async def call_python(self, import_path: str, answer: Answered) -> Any:
        """What the team's function returned for the answer (its error raised)."""
        return await call_python(import_path, answer, self.case, self.figures, self.code)

    async def run(self, spec: AssertionSpec, answer: Answered) -> Outcome:
        """The outcome of a check inside another (`not`)."""
        return await spec.run(answer, self)


def _result(spec: AssertionSpec, outcome: Outcome) -> AssertionResult:
    """The stored outcome of a check."""
    return AssertionResult(
        kind=spec.kind,
        expected=spec.expected(),
        passed=outcome.passed,
        detail=outcome.detail,
        weight=spec.weight,
    )


def check(spec: AssertionSpec, answer: Answer, figures: Usage | None = None) -> AssertionResult:
    """Run one check that needs no function of the team's (not `python`, not `not`)."""
    return _result(spec, spec.check(answer, figures or Usage()))


async def run_check(
    spec: AssertionSpec, answer: Answer, case: Case, figures: Usage, code: OwnCode | None = None
) -> AssertionResult:
    """Run any check against an answer of `case`; a `python` check's error is raised.

    `code` runs the `python` checks (off the loop, within its timeout; the default's is 60 s).
    """
    return _result(spec, await spec.run(answer, _Run(case, figures, code or _DEFAULT_CODE)))


async def check_all(
    specs: tuple[AssertionSpec, ...],
    answer: Answer,
    case: Case,
    figures: Usage,
    code: OwnCode | None = None,
) -> list[AssertionResult]:
    """Run every check against an answer of `case`, in order."""
    return [await run_check(spec, answer, case, figures, code) for spec in specs]


def checks_score(results: list[AssertionResult]) -> float:
    """The weighted share of passed checks (1.0 with none): a `judge: false` case's score."""
    total = sum(r.weight for r in results)
    return sum(r.weight for r in results if r.passed) / total if total else 1.0
