"""The part of a process that runs case items: look-ahead over its items, warm-up, --optimize."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

import pytest

from pytest_promptopt.errors import DatabaseError, PromptOptError
from pytest_promptopt.integration.collect import CaseItem
from pytest_promptopt.integration.handoff import USER_ERROR_ATTR
from pytest_promptopt.integration.role import SessionRole
from pytest_promptopt.integration.session_errors import (
    announce_problems,
    short_error,
    stop_on_database_error,
)
from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.reporting.verdict import OptimizeNote
    from pytest_promptopt.settings import Settings
    from pytest_promptopt.suites.spec import Case, Suite

LOOKAHEAD_MIN = 64


class CaseRunnerRole(SessionRole):
    """A process that runs case items (alone, or an xdist worker); the controller runs none."""

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        super().__init__(config, settings, session_uid)
        self.case_items: list[CaseItem] = []
        self._position: dict[str, int] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Remember the order of case items so each one can start the next ones early."""
        self.case_items = [i for i in items if isinstance(i, CaseItem)]
        self._position = {item.nodeid: n for n, item in enumerate(self.case_items)}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Start the SDK import when cases run first; under --optimize, optimize them first.

        The import (about 1 s) then overlaps the wait for the first case and, on an xdist
        worker, the wait for the controller to hand out items. When other tests come first,
        the first case starts it: no test of the user's runs beside it (see `imports.py`).
        """
        if not self.case_items or self.config.option.collectonly or self.settings.dry_run:
            return
        announce_problems(self.config, self.runtime().session_problems())
        if session.items and session.items[0] is self.case_items[0]:
            self.runtime().warm_up()
        self.cases_start()
        try:
            self.runtime().db  # noqa: B018 (opened now: a database that fails stops at once)
            if self.settings.optimize:
                from pytest_promptopt.integration.optimize_entry import optimize_selected

                optimize_selected(session, self.runtime(), self.case_items)
        except DatabaseError as exc:
            failure = exc
        else:
            return
        # Outside the handler, with no traceback: one line, and no frame holding the URL.
        stop_on_database_error(session, failure)
        raise session.Failed(session.shouldfail)

    def cases_start(self) -> None:
        """Called once before this process runs its case items (not when it has none)."""

    @staticmethod
    def optimize_notes(runtime: Runtime) -> list[OptimizeNote]:
        """The notes (estimate, spend, apply outcome) of the suites this process optimized."""
        if not runtime.suites.outcomes():
            return []
        from pytest_promptopt.integration.optimize_entry import optimize_notes

        return optimize_notes(runtime.suites.outcomes())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A plugin error (API, judge, cache, budget) in a case's setup is one clear line."""
        from pytest_promptopt.integration.collect import UserCodeFailed

        report = yield
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(item, CaseItem) and isinstance(error, PromptOptError):
            report.longrepr = for_terminal(f"promptopt error: {short_error(str(error))}")
            if isinstance(error, DatabaseError):
                stop_on_database_error(item.session, error)
        if isinstance(item, CaseItem) and isinstance(error, UserCodeFailed):
            setattr(report, USER_ERROR_ATTR, True)  # travels home with the report under xdist
        return report

    def upcoming_cases(self, nodeid: str) -> tuple[Sequence[tuple[Suite, Case]], int | None]:
        """The cases this process will run next (a window of a few times the concurrency).

        With the stride the scheduler refills them (`CaseScheduler.result_with_lookahead`):
        half the window in pytest's order, every item on an xdist worker's moving queue.
        """
        window = max(LOOKAHEAD_MIN, 4 * self.settings.concurrency)
        if self.settings.batch:
            window = len(self.case_items)  # every case at once: one batch, not many small ones
        if self.config.option.maxfail:
            # -x / --maxfail may stop at any item: start no more than the calls in flight.
            window = self.settings.concurrency
        upcoming, stride = self._next_items(nodeid, window)
        return [(i.suite, i.case) for i in upcoming[:window]], stride

    def _next_items(self, nodeid: str, window: int) -> tuple[list[CaseItem], int | None]:
        """The case items after `nodeid` in pytest's order; refilled every half window."""
        start = self._position.get(nodeid, -1) + 1
        return self.case_items[start : start + window], window // 2
