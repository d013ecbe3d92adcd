"""Suite files become pytest collectors; each case becomes an item that is judged in setup."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.errors import PromptOptError, SuiteError
from pytest_promptopt.integration.role import role_of
from pytest_promptopt.redaction import escape_control, for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.results import CaseResult
    from pytest_promptopt.suites.spec import Case, Suite


class CaseFailed(Exception):
    """A case scored under its threshold or failed a check."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.explain())
        self.result = result


class UserCodeFailed(Exception):
    """The team's own code (a target, a `python` check) raised while the case was judged."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.error)
        self.result = result

    def describe(self, tbstyle: str) -> str:
        """`error in your target app:answer`, their traceback (unless --tb=line/no), the error."""
        r = self.result
        from pytest_promptopt.evaluation.results import item_name

        head = f"error in your {r.error_source or 'code'} (judging {item_name(r.suite, r.case_id)})"
        if tbstyle in ("line", "no") or not r.error_traceback:
            return f"{head}: {r.error}"
        return f"{head}:\n{r.error_traceback}\n\npromptopt error: {r.error}"


class SuiteFile(pytest.File):
    """A `*.promptopt.yaml` file: one suite, one item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        """Load and validate the suite, then yield its cases as items.

        The rootdir goes on `sys.path` (as pytest's `prepend` import mode puts a test module's
        directory there), so the suite's `python` checks import as the team's tests do.
        """
        from pytest_promptopt.suites.confine import FileRoots
        from pytest_promptopt.suites.loader import load_suite

        if str(self.config.rootpath) not in sys.path:
            sys.path.insert(0, str(self.config.rootpath))
        settings = role_of(self.config).settings
        # What the suite may read: the rootdir and the folders of `promptopt_allowed_paths`.
        roots = FileRoots.of([self.config.rootpath, *settings.allowed_paths])
        try:
            suite = load_suite(self.path, roots)
            judged = suite.variant_suites()
            model = role_of(self.config).settings.model
            for one in judged:
                if one.params:
                    from pytest_promptopt.llm.params import check_params

                    check_params(one.params, where=str(self.path))
                if one.params or one.tool_choice or one.model:
                    from pytest_promptopt.llm.params import check_model_rules

                    check_model_rules(
                        model=one.model or model,
                        params=one.params,
                        tool_choice=one.tool_choice,
                        where=str(self.path) + (f" (variant {one.variant})" if one.variant else ""),
                    )
        except SuiteError as exc:
            raise self.CollectError(for_terminal(str(exc))) from None
        try:
            for name in dict.fromkeys([suite.name, *(one.name for one in judged)]):
                role_of(self.config).claim_suite_name(name, str(self.path))
        except SuiteError as exc:
            raise self.CollectError(for_terminal(str(exc))) from None
        from pytest_promptopt.suites.duplicates import duplicate_cases

        for first, again in duplicate_cases(suite.cases):
            self.warn(
                pytest.PytestCollectionWarning(
                    f"{self.path}: cases {for_terminal(first)!r} and {for_terminal(again)!r} "
                    f"of suite {for_terminal(suite.name)!r} are duplicates (the same input, "
                    "expected behaviour and checks): each counts twice in the suite's figures; "
                    f"remove {for_terminal(again)!r} or make it differ"
                )
            )
        for case in suite.cases:
            # Variants of one case side by side: `suite[case@v1]`, `suite[case@v2]`.
            for one in judged:
                tag = f"@{one.variant}" if one.variant is not None else ""
                # Control characters of a suite name or case id are shown, never obeyed.
                name = escape_control(f"{suite.name}[{case.id}{tag}]")
                # A string id, parsed by pytest (9.2+: `suite` with params `case id`), so --lf
                # and --ff match the ids they stored; pytest 8 keeps the string as it is.
                yield CaseItem.from_parent(
                    self,
                    name=name,
                    nodeid=f"{self.nodeid}::{name}",
                    suite=one,
                    case=case,
                    base_suite=suite.name,
                )


class CaseItem(pytest.Item):
    """One case: setup gets its result (errors surface as errors), runtest passes or fails on it."""

    def __init__(self, *, suite: Suite, case: Case, base_suite: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.base_suite = base_suite or suite.name
        """The suite's name without a variant: with the case key, what picks the shard."""
        self.result: CaseResult | None = None
        self.reason: str | None = None

    def setup(self) -> None:
        """Evaluate the case (started ahead of time with the next cases, for concurrency).

        A session-wide problem (no credentials, a bad setting) keeps it from running: its
        error says `not run: <cause>`. An error in the team's own code (target, `python`
        check) is raised in the call phase, with their traceback.
        """
        from pytest_promptopt.evaluation.record import case_record
        from pytest_promptopt.evaluation.results import CaseResult
        from pytest_promptopt.suites.clusters import cluster_of

        role = role_of(self.config)
        runtime = role.runtime()
        problems = runtime.session_problems()
        if problems:
            from pytest_promptopt.errors import SessionProblemError

            error = SessionProblemError(problems[0])
            self.result = CaseResult(
                suite=self.suite.name,
                case_id=self.case.id,
                threshold=self.suite.threshold_for(self.case, role.settings.threshold),
                error=str(error),
            )
        else:
            upcoming, stride = role.upcoming_cases(self.nodeid)
            self.result = runtime.scheduler.result_with_lookahead(
                self.suite, self.case, upcoming, stride=stride
            )
        record = case_record(
            self.result,
            min_pass_rate=self.min_pass_rate,
            min_judge_agreement=self.min_judge_agreement,
            variant=self.suite.variant,
            variant_rank=self.suite.variant_rank,
            flaky=self.suite.is_flaky(self.case),
            cluster=cluster_of(self.suite, self.case),
            comparison=self.suite.comparison,
        )
        self.user_properties.extend(record.to_properties())
        self.reason = record.reason
        if self.result.error and self.result.error_traceback is None:
            raise PromptOptError(self.result.error)

    @property
    def min_pass_rate(self) -> float | None:
        """The suite's pass-rate gate: its own `min_pass_rate`, else the configured one."""
        if self.suite.min_pass_rate is not None:
            return self.suite.min_pass_rate
        return role_of(self.config).settings.min_pass_rate

    @property
    def min_judge_agreement(self) -> float | None:
        """The suite's agreement gate: its own `min_judge_agreement`, else the configured one."""
        if self.suite.min_judge_agreement is not None:
            return self.suite.min_judge_agreement
        return role_of(self.config).settings.min_judge_agreement

    def runtest(self) -> None:
        """Pass when every check passed and the score meets the threshold.

        A failing flaky case, or one of a suite graded by its pass rate, is xfailed with its
        reason: it never fails the session by itself, and its record still says failed.
        """
        assert self.result is not None
        if self.result.error is not None:
            raise UserCodeFailed(self.result)
        if not self.result.passed:
            reason = self.reason or self.result.explain().splitlines()[0]
            if self.suite.is_flaky(self.case) or self.min_pass_rate is not None:
                pytest.xfail(for_terminal(reason))
            raise CaseFailed(self.result)

    def teardown(self) -> None:
        """Let go of the result: the report and the database have what they need."""
        self.result = None

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The case explanation for a failure; one line for a plugin error.

        Model and case text in it has its secrets redacted and its control characters escaped.
        Setup errors do not come here: `CaseRunnerRole.pytest_runtest_makereport` shortens those.
        """
        if isinstance(excinfo.value, CaseFailed):
            return for_terminal(str(excinfo.value))
        if isinstance(excinfo.value, UserCodeFailed):
            return for_terminal(
                excinfo.value.describe(str(self.config.getoption("tbstyle", "auto")))
            )
        if isinstance(excinfo.value, PromptOptError):
            return for_terminal(f"promptopt error: {excinfo.value}")
        return super().repr_failure(excinfo, style=style)

    def in_shard(self, shard: tuple[int, int]) -> bool:
        """True when this case falls into shard `(I, N)` (all its variants with it)."""
        from pytest_promptopt.suites.shard import shard_of

        return shard_of(self.base_suite, self.case.id, shard[1]) == shard[0]

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the case lives, for pytest's report headers."""
        return self.path, None, self.name
