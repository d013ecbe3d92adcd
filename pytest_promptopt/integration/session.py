"""Session-long hooks and state of the plugin, one object per pytest config."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.integration.collect import CaseItem
    from pytest_promptopt.integration.terminal import SummaryCollector
    from pytest_promptopt.reporting.model import RunReport
    from pytest_promptopt.settings import Settings
    from pytest_promptopt.suites.spec import Case, Suite

LOOKAHEAD_MIN = 64
CASE_PROPERTY = "promptopt_suite"


class PromptOptSession:
    """Holds settings, the lazily built runtime and the summary; implements session hooks."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.is_worker = workerinput is not None
        if workerinput is not None:
            uid = workerinput.get("promptopt_session_uid") or workerinput["testrunuid"]
        else:
            uid = uuid.uuid4().hex
        self.session_uid: str = uid
        self._runtime: Runtime | None = None
        self.finisher: Runtime | None = None
        self.suite_sources: dict[str, str] = {}
        self.case_items: list[CaseItem] = []
        self.position: dict[str, int] = {}
        self.summary: SummaryCollector | None = None
        self.report_dir: Path | None = None
        self.report: RunReport | None = None

    def runtime(self) -> Runtime:
        """The process's runtime, built on first use."""
        if self._runtime is None:
            from pytest_promptopt.engine.runtime import Runtime

            self._runtime = Runtime(self.settings, session_uid=self.session_uid)
        return self._runtime

    @property
    def runtime_if_built(self) -> Runtime | None:
        """The runtime, or None when nothing needed it."""
        return self._runtime

    def claim_suite_name(self, name: str, source: str) -> None:
        """Suite names key the database, so two files may not share one."""
        from pytest_promptopt.errors import SuiteError

        if self.suite_sources.setdefault(name, source) != source:
            raise SuiteError(
                f"{source}: suite name {name!r} is already used by {self.suite_sources[name]}; "
                "give one of them a unique `name:`"
            )

    # --- hooks --------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Remember the order of case items so each one can start the next ones early."""
        from pytest_promptopt.integration.collect import CaseItem

        self.case_items = [i for i in items if isinstance(i, CaseItem)]
        self.position = {item.nodeid: n for n, item in enumerate(self.case_items)}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Start the SDK import when cases run first; under --optimize, optimize them first.

        The import (about 1 s) then overlaps the wait for the first case and, on an xdist
        worker, the wait for the controller to hand out items. When other tests come first,
        the first case starts it: no test of the user's runs beside it (see `imports.py`).
        """
        if not self.case_items or self.config.option.collectonly:
            return
        if session.items and session.items[0] is self.case_items[0]:
            self.runtime().warm_up()
        if self.settings.optimize:
            from pytest_promptopt.integration.optimize_entry import optimize_selected

            optimize_selected(session, self.runtime(), self.case_items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect per-case scores and costs (on the controller, from every worker too)."""
        if self.is_worker or not any(k == CASE_PROPERTY for k, _ in report.user_properties):
            return
        if self.summary is None:
            from pytest_promptopt.integration.terminal import SummaryCollector

            self.summary = SummaryCollector()
            if self._runtime is None and getattr(self.config.option, "numprocesses", None):
                # An xdist controller: open the database now, while the workers judge.
                from pytest_promptopt.engine.runtime import Runtime

                self.finisher = Runtime(self.settings, session_uid=self.session_uid)
                self.finisher.open_db_in_background()
        self.summary.add(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Finish the run row, write reports (not on workers) and release resources."""
        if self._runtime is None and self.summary is None and not self._workers_may_have_run():
            return
        from pytest_promptopt.integration.finish import finish_session

        self.report_dir = finish_session(self, int(exitstatus))

    def _workers_may_have_run(self) -> bool:
        """On an xdist controller: workers may have started a run nobody has finished yet.

        Only checked when the SQLite file exists (so a session without suites creates nothing).
        """
        if self.is_worker or not getattr(self.config.option, "numprocesses", None):
            return False
        url = self.settings.db_url
        return url.startswith("sqlite:///") and Path(url.removeprefix("sqlite:///")).is_file()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The `promptopt` section: one line per suite, then where the reports are."""
        if self.summary is None or self.is_worker:
            return
        from pytest_promptopt.integration.terminal import write_summary

        write_summary(terminalreporter, self)
        # Thousands of results are no longer needed; free them before pytest's final gc passes.
        self.report = None
        if self._runtime is not None:
            self._runtime.scheduler.release_results()

    # --- lookahead ------------------------------------------------------------------------
    def upcoming_cases(self, item: CaseItem) -> tuple[Sequence[tuple[Suite, Case]], int | None]:
        """The cases this process will run next (a window of a few times the concurrency).

        With the stride the scheduler refills them (`CaseScheduler.result_with_lookahead`):
        half the window in pytest's order, every item on an xdist worker's moving queue.
        """
        window = max(LOOKAHEAD_MIN, 4 * self.settings.concurrency)
        if self.config.option.maxfail:
            # -x / --maxfail may stop at any item: start no more than the calls in flight.
            window = self.settings.concurrency
        if self.is_worker:
            from pytest_promptopt.integration.collect import CaseItem
            from pytest_promptopt.integration.xdist_compat import pending_items

            if getattr(self.config.option, "dist", None) == "worksteal":
                # Stealing takes from the back of a queue: start only the front of it.
                window = self.settings.concurrency

            upcoming = [i for i in pending_items(self.config) if isinstance(i, CaseItem)]
            stride = None
        else:
            start = self.position.get(item.nodeid, -1) + 1
            upcoming = self.case_items[start : start + window]
            stride = window // 2  # enough already started; refill in strides, so lookups batch up
        return [(i.suite, i.case) for i in upcoming[:window]], stride


SESSION = pytest.StashKey[PromptOptSession]()
