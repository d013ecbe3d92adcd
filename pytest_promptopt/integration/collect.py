"""Suite files become pytest collectors; each case becomes an item that is judged in setup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.errors import PromptOptError, SuiteError

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.results import CaseResult
    from pytest_promptopt.suites.spec import Case, Suite


class CaseFailed(Exception):
    """A case scored under its threshold or failed a check."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.explain())
        self.result = result


def case_properties(result: CaseResult) -> list[tuple[str, object]]:
    """Scores, tokens and cost of a case as `user_properties` (JUnit XML and xdist carry them)."""
    totals = result.totals()
    props: list[tuple[str, object]] = [
        ("promptopt_suite", result.suite),
        ("promptopt_case", result.case_id),
        ("promptopt_prompt_id", result.prompt_id),
        ("promptopt_score", round(result.score, 4)),
        ("promptopt_threshold", result.threshold),
        ("promptopt_passed", result.passed),
        ("promptopt_error", result.error or ""),
        ("promptopt_calls", int(totals["calls"])),
        ("promptopt_cache_hits", int(totals["cache_hits"])),
        ("promptopt_input_tokens", int(totals["input_tokens"])),
        ("promptopt_output_tokens", int(totals["output_tokens"])),
        ("promptopt_cost_usd", round(totals["cost_usd"], 6)),
    ]
    props += [(f"promptopt_{k}", round(v, 4)) for k, v in result.criterion_means().items()]
    return props


class SuiteFile(pytest.File):
    """A `*.promptopt.yaml` file: one suite, one item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        """Load and validate the suite, then yield its cases as items."""
        from pytest_promptopt.integration.session import SESSION
        from pytest_promptopt.suites.loader import load_suite

        try:
            suite = load_suite(self.path)
        except SuiteError as exc:
            raise self.CollectError(str(exc)) from None
        try:
            self.config.stash[SESSION].claim_suite_name(suite.name, str(self.path))
        except SuiteError as exc:
            raise self.CollectError(str(exc)) from None
        for case in suite.cases:
            name = f"{suite.name}[{case.id}]"
            # A string id, parsed by pytest (9.2+: `suite` with params `case id`), so --lf and
            # --ff match the ids they stored; pytest 8 keeps the string as it is.
            yield CaseItem.from_parent(
                self, name=name, nodeid=f"{self.nodeid}::{name}", suite=suite, case=case
            )


class CaseItem(pytest.Item):
    """One case: setup gets its result (errors surface as errors), runtest gates on it."""

    def __init__(self, *, suite: Suite, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.result: CaseResult | None = None

    def setup(self) -> None:
        """Evaluate the case (started ahead of time with the next cases, for concurrency)."""
        from pytest_promptopt.integration.session import SESSION

        session = self.config.stash[SESSION]
        upcoming, stride = session.upcoming_cases(self)
        self.result = session.runtime().scheduler.result_with_lookahead(
            self.suite, self.case, upcoming, stride=stride
        )
        self.user_properties.extend(case_properties(self.result))
        if self.result.error:
            raise PromptOptError(self.result.error)

    def runtest(self) -> None:
        """Pass when every check passed and the score meets the threshold."""
        assert self.result is not None
        if not self.result.passed:
            raise CaseFailed(self.result)

    def teardown(self) -> None:
        """Let go of the result: the report and the database have what they need."""
        self.result = None

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The case explanation for a failure; one line for a plugin error."""
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, PromptOptError):
            return f"promptopt error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def _repr_failure_py(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """Setup errors from the plugin (API, judge, cache, budget) are one clear line."""
        if isinstance(excinfo.value, PromptOptError):
            return f"promptopt error: {excinfo.value}"
        return super()._repr_failure_py(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the case lives, for pytest's report headers."""
        return self.path, None, f"{self.suite.name}[{self.case.id}]"
