"""The three parts a pytest process plays, chosen once: alone, xdist controller or xdist worker.

As pytest-cov does with `Central`/`DistMaster`/`DistWorker`, each role is one object whose
methods are the session hooks of that role:

- `Alone` judges its cases, finishes the run and writes the summary and reports.
- `Worker` judges the cases xdist hands it and sends its run id home in `workeroutput`.
- `Controller` judges nothing: it gathers the workers' case records and finishes the run on
  every path (a worker that died sent nothing, so it also looks the run up by session uid).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import uuid
import warnings
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.errors import DatabaseError, PromptOptError
from pytest_promptopt.integration import internals
from pytest_promptopt.integration.collect import CaseItem
from pytest_promptopt.integration.role import Role
from pytest_promptopt.integration.terminal import (
    SummaryCollector,
    carries_record,
    suite_lines,
    variant_lines,
    write_summary,
)
from pytest_promptopt.redaction import for_terminal
from pytest_promptopt.suites import SUITE_SUFFIXES

if TYPE_CHECKING:
    from pytest_promptopt.engine.heartbeat import OwnerWatch
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.engine.suite_registry import SuiteOutcome
    from pytest_promptopt.evaluation.gates import PassRateGate
    from pytest_promptopt.reporting.baseline import BaselineResult
    from pytest_promptopt.reporting.model import RunReport
    from pytest_promptopt.reporting.verdict import OptimizeNote, SessionVerdict
    from pytest_promptopt.settings import Settings
    from pytest_promptopt.suites.spec import Case, Suite

LOOKAHEAD_MIN = 64
SESSION_UID_KEY = "promptopt_session_uid"
RUN_ID_KEY = "promptopt_run_id"
OWNER_KEY = "promptopt_owner"
# A worker whose controller died stops within about this long (SIGINT, then a hard exit).
ORPHAN_GRACE_S = 10.0
OPTIMIZED_KEY = "promptopt_optimized"
USER_ERROR_ATTR = "promptopt_user_error"


def run_status(exitstatus: int) -> str:
    """The run status for pytest's exit status."""
    if exitstatus == pytest.ExitCode.OK:
        return "passed"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    return "failed"


def stop_on_database_error(session: pytest.Session, error: DatabaseError) -> None:
    """Stop the session after a database error: every other item would only repeat it."""
    if not session.shouldfail:
        session.shouldfail = f"promptopt error: {error}"


def stopped_on_database_error(session: pytest.Session) -> bool:
    """True when the session (or, on the controller, a worker) stopped on a database error."""
    reasons = (session.shouldfail, session.shouldstop, internals.xdist_stop_reason(session.config))
    return any(str(r or "").startswith("promptopt error: ") for r in reasons)


def report_database_error(session: pytest.Session, error: PromptOptError) -> None:
    """One `promptopt error` line at the end of a session, unless the session stopped on it."""
    if stopped_on_database_error(session):
        return
    reporter: Any = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"promptopt error: {error}", red=True)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
def local_notes(runtime: Runtime) -> list[OptimizeNote]:
    """The optimize notes (estimate, spend, apply outcome) of the suites this process optimized."""
    if not runtime.suites.outcomes():
        return []
    from pytest_promptopt.integration.optimize_entry import optimize_notes

    return optimize_notes(runtime.suites.outcomes())


def choose_role(config: pytest.Config, settings: Settings) -> Role:
    """The role of this process, decided once from xdist's view of it."""
    workerinput = internals.worker_input(config)
    if workerinput is not None:
        uid = workerinput.get(SESSION_UID_KEY) or workerinput["testrunuid"]
        return Worker(config, settings, str(uid))
    if internals.is_controller(config):
        return Controller(config, settings, uuid.uuid4().hex)
    return Alone(config, settings, uuid.uuid4().hex)


def short_error(message: str) -> str:
    """An item's error; one a session-wide problem caused is named, not repeated in full."""
    from pytest_promptopt.reporting.verdict import NOT_RUN

    if not message.startswith(NOT_RUN):
        return message
    return f"{message.split('; ', 1)[0]} (the session error in the promptopt section says more)"


def announce_problems(config: pytest.Config, problems: Sequence[str]) -> None:
    """Write each session-wide problem once, at the start, where the terminal shows it."""
    reporter: Any = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or internals.worker_input(config) is not None:
        return
    for cause in problems:
        reporter.write_line(f"promptopt: session error: {cause}; the cases will not run", red=True)


class Judging(Role):
    """A process that runs case items: look-ahead over its items, warm-up, --optimize first."""

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
        if not self.case_items or self.config.option.collectonly:
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


class Summarizing(Role):
    """A process that reports: gathers case records, finishes the run, writes the summary."""

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        super().__init__(config, settings, session_uid)
        self.summary: SummaryCollector | None = None
        self.report: RunReport | None = None
        self.report_dir: Path | None = None
        self.gates: list[PassRateGate] = []
        self.baselines: dict[str, BaselineResult] | None = None
        self.baseline_error: str | None = None
        self.limit_history: str | None = None
        self.notes: list[OptimizeNote] = []
        self.verdict: SessionVerdict | None = None

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """An error in the team's own code is an error, though raised in the call phase."""
        if report.when == "call" and report.failed and getattr(report, USER_ERROR_ATTR, False):
            return "error", "E", "ERROR"
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect per-case scores and costs (from every worker too, on the controller)."""
        if not carries_record(report):
            return
        if self.summary is None:
            self.summary = SummaryCollector()
            self.first_record()
        self.summary.add(report)

    def first_record(self) -> None:
        """Called when the first case record arrives."""

    def gate_session(self, session: pytest.Session, exitstatus: int) -> int:
        """Fail a session that passed when a suite is under its `min_pass_rate`.

        As pytest-cov's `--cov-fail-under` does: the items stand as they are (the failing cases
        of a graded suite are xfailed) and the session's exit status becomes 1. The controller
        decides from every worker's case records. Returns the exit status to record.
        """
        if self.summary is None:
            return exitstatus
        from pytest_promptopt.evaluation.gates import pass_rate_gates

        self.gates = pass_rate_gates(self.summary.by_suite())
        if exitstatus == pytest.ExitCode.OK and any(g.failed for g in self.gates):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return int(pytest.ExitCode.TESTS_FAILED)
        return exitstatus

    def apply_baseline(self, session: pytest.Session, owner: Runtime, run_id: int) -> None:
        """--promptopt-baseline: compare each suite with its baseline; a regression fails.

        Runs once the run's evaluations are written, before the run's status is; an
        interrupted session is not compared (its suites are partial), and a comparison that
        fails (the database, say) fails the session with a warning rather than let it pass.
        """
        if not self.settings.baseline or self.summary is None:
            return
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        from pytest_promptopt.reporting.baseline import compare_with_baselines

        try:
            self.baselines = compare_with_baselines(
                owner.db, run_id, self.summary.by_suite(), self.settings.regression_margin
            )
        except Exception as exc:  # a gate that cannot decide must not pass: fail, say why
            self.baseline_error = f"could not compare with the baselines ({exc}); the session fails"
            warnings.warn(
                for_terminal(f"promptopt: {self.baseline_error}"), RuntimeWarning, stacklevel=1
            )
            self.baselines = None
            regressed = True
        else:
            regressed = any(r.regressed for r in self.baselines.values())
        if regressed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def record_unrun(self, owner: Runtime) -> bool:
        """A session whose items a session-wide problem kept from running still gets its run
        row (and so its reports); True when one was created here."""
        if self.summary is None or owner.run.exists() or not owner.session_problems():
            return False
        try:
            owner.run_id  # noqa: B018 (the accessor creates the row)
        except Exception:  # a database that cannot be opened is such a problem itself
            return False
        return True

    def decide_verdict(self, owner: Runtime | None, run_id: int | None) -> None:
        """Decide, once, what the session tells the user at its end (`SessionVerdict`)."""
        if self.summary is None:
            return
        from pytest_promptopt.evaluation.variants import variant_comparisons
        from pytest_promptopt.reporting.verdict import build_verdict, spend_by_role

        roles = None
        if owner is not None and run_id is not None:
            with contextlib.suppress(Exception):  # the items' own figures stand in
                roles = spend_by_role(owner.db, run_id)
        records = self.summary.by_suite()
        self.verdict = build_verdict(
            records,
            gates=self.gates,
            baselines=self.baselines,
            variants=variant_comparisons(records),
            notes=self.notes,
            roles=roles,
            known_problems=owner.session_problems() if owner is not None else (),
            baseline_error=self.baseline_error,
        )

    def write_reports(self, owner: Runtime, run_id: int) -> None:
        """Build the run's report from the records and the database, and write its files."""
        if self.summary is None:  # stopped before any case reported: nothing to show
            return
        from pytest_promptopt.reporting.build import build_report
        from pytest_promptopt.reporting.writers import write_reports

        with contextlib.suppress(Exception):  # a note for the summary, never worth a failure
            self.limit_history = owner.limit_history()
        try:
            self.decide_verdict(owner, run_id)
            self.report = build_report(owner.db, run_id, self.summary.by_suite())
            self.report.verdict = self.verdict
            for suite in self.report.suites:
                suite.baseline = (self.baselines or {}).get(suite.name)
            self.report_dir = write_reports(self.report, self.settings.report_dir).run_dir
        except Exception as exc:  # reports must never turn a finished session into a crash
            warnings.warn(
                for_terminal(f"promptopt: could not write reports: {exc}"),
                RuntimeWarning,
                stacklevel=1,
            )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The `promptopt` section: the verdict first, then the suites, then the reports."""
        if self.summary is None:
            return
        if self.verdict is None:
            self.decide_verdict(None, None)
        assert self.verdict is not None
        runtime = self.runtime_if_built()
        reported = {s.name: s for s in self.report.suites} if self.report is not None else {}
        totals = self.summary.totals()
        outcomes: dict[str, SuiteOutcome] = {}
        prompts: dict[str, str] = {}
        if runtime is not None:
            for t in totals:
                outcome = runtime.suites.outcome(t.name)
                if outcome is not None:
                    outcomes[t.name] = outcome
                prompts[t.name] = runtime.suites.judged_prompt(t.name) or ""
        lines = suite_lines(totals, outcomes, reported, prompts)
        write_summary(
            terminalreporter,
            self.verdict,
            lines,
            self.report_dir,
            self.baselines,
            gates=self.gates,
            records=self.summary.by_suite(),
            after_suites=variant_lines(self.summary.by_suite()),
            limit_history=self.limit_history,
        )
        # Thousands of results are no longer needed; free them before pytest's final gc passes.
        self.report = None
        if runtime is not None:
            runtime.scheduler.release_results()


class Alone(Judging, Summarizing):
    """A session without xdist: judges, finishes the run and reports, all in this process."""

    name = "alone"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Apply the pass-rate gates, finish the run row, write the reports, release resources."""
        exitstatus = self.gate_session(session, int(exitstatus))
        runtime = self.runtime_if_built()
        if runtime is None:
            return
        failure: PromptOptError | None = None
        try:
            runtime.close(None)
            self.notes = local_notes(runtime)
            self.record_unrun(runtime)
            if runtime.run.exists():
                self.apply_baseline(session, runtime, runtime.run_id)
                runtime.run.finish(runtime.run_id, run_status(int(session.exitstatus)))
                self.write_reports(runtime, runtime.run_id)
        except DatabaseError as exc:
            failure = exc
        finally:
            runtime.dispose()
        if failure is not None:
            report_database_error(session, failure)


class Worker(Judging):
    """An xdist worker: judges its cases; the controller finishes the run."""

    name = "worker"
    shares_limit = True

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        super().__init__(config, settings, session_uid)
        self._watch: OwnerWatch | None = None

    def owner(self) -> tuple[str, int] | None:
        """The controller (host, pid): its death abandons the run."""
        data = (internals.worker_input(self.config) or {}).get(OWNER_KEY)
        return None if not data else (str(data[0]), int(data[1]))

    def cases_start(self) -> None:
        """Watch the controller: a worker whose controller died stops (finding it orphaned)."""
        owner = self.owner()
        if owner is None or owner[0] != socket.gethostname():
            return  # a remote controller: its channel closing stops this worker
        from pytest_promptopt.engine.heartbeat import OwnerWatch

        self._watch = OwnerWatch(owner[1], self._orphaned)

    def _orphaned(self) -> None:
        """The controller is gone: interrupt this worker, and end it if that does not."""
        owner = self.owner()
        with contextlib.suppress(OSError, AttributeError):
            sys.__stderr__.write(  # type: ignore[union-attr]
                f"promptopt: the xdist controller (pid {owner and owner[1]}) is gone; "
                "stopping this worker (what it recorded is kept; the run can be resumed)\n"
            )
        os.kill(os.getpid(), signal.SIGINT)
        timer = threading.Timer(ORPHAN_GRACE_S, os._exit, args=(int(pytest.ExitCode.INTERRUPTED),))
        timer.daemon = True
        timer.start()

    def _next_items(self, nodeid: str, window: int) -> tuple[list[CaseItem], int | None]:
        """The case items xdist has queued on this worker (a moving queue: topped up each item)."""
        if internals.dist_mode(self.config) == "worksteal":
            # Stealing takes from the back of a queue: start only the front of it.
            window = self.settings.concurrency
        queued = internals.pending_items(self.config)
        return [i for i in queued if isinstance(i, CaseItem)][:window], None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Flush and close; tell the controller which run this worker wrote to."""
        if self._watch is not None:
            self._watch.stop()
        runtime = self.runtime_if_built()
        if runtime is None:
            return
        try:
            runtime.close(None)
            if runtime.run.exists():
                internals.set_worker_output(self.config, RUN_ID_KEY, runtime.run_id)
            notes = [n.model_dump(mode="json") for n in local_notes(runtime)]
            if notes:
                internals.set_worker_output(self.config, OPTIMIZED_KEY, notes)
        except DatabaseError:
            pass  # the items that met it said so; the controller reports its own
        finally:
            runtime.dispose()


class Controller(Summarizing):
    """The xdist controller: hands out items, gathers records, finishes the run on every path."""

    name = "controller"

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        super().__init__(config, settings, session_uid)
        self._reported_run_ids: set[int] = set()
        self._cases_collected = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Every worker shares this session uid, so all of them land in one run row; each
        knows this process, whose death abandons the run (and stops the worker)."""
        node.workerinput[SESSION_UID_KEY] = self.session_uid
        node.workerinput[OWNER_KEY] = [socket.gethostname(), os.getpid()]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """`--dist load`: keep workers' queues full, so their cases can start early."""
        if internals.dist_mode(config) == "load":
            return internals.make_scheduler(config, log, 2 * self.settings.concurrency)
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        """Note whether the workers collected case items (their run must be finished here)."""
        if not self._cases_collected:
            self._cases_collected = any(i.split("::", 1)[0].endswith(SUITE_SUFFIXES) for i in ids)
            if self._cases_collected:
                announce_problems(self.config, self.runtime().session_problems())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Take the run id a finished worker sent (a worker that died sends none)."""
        output = internals.node_worker_output(node)
        run_id = output.get(RUN_ID_KEY)
        if run_id is not None:
            self._reported_run_ids.add(int(run_id))
        if output.get(OPTIMIZED_KEY):
            from pytest_promptopt.reporting.verdict import OptimizeNote

            self.notes += [OptimizeNote.model_validate(n) for n in output[OPTIMIZED_KEY]]

    def first_record(self) -> None:
        """Open the database now, in the background, while the workers judge."""
        self.runtime().database.open_in_background()

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Apply the pass-rate gates, mark the workers' run finished (found by session uid if
        none reported) and report."""
        exitstatus = self.gate_session(session, int(exitstatus))
        if not (self._reported_run_ids or self._cases_collected or self.summary is not None):
            return
        owner = self.runtime()
        failure: PromptOptError | None = None
        try:
            owner.database.await_background()
            run_id = owner.run.id_if_created()
            if run_id is None and self.record_unrun(owner):
                run_id = owner.run_id
            if run_id is None:
                return
            self.apply_baseline(session, owner, run_id)
            owner.run.finish(run_id, run_status(int(session.exitstatus)))
            self.write_reports(owner, run_id)
        except DatabaseError as exc:
            failure = exc
        finally:
            owner.dispose()
        if failure is not None:
            report_database_error(session, failure)
