"""The end of a session: the CI decision (pass rates, baselines), database errors, run status."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.integration.reporting_role import run_status
from pytest_promptopt.integration.session_errors import (
    report_database_error,
    short_error,
    stop_on_database_error,
)
from pytest_promptopt.integration.session_gate import SessionGate
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.reporting.verdict import NOT_RUN

OK, FAILED = int(pytest.ExitCode.OK), int(pytest.ExitCode.TESTS_FAILED)


class Reporter:
    """Collects the lines written to the terminal."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append(line)


def fake_session(exitstatus: int = OK, reporter: Reporter | None = None) -> Any:
    """Just enough of pytest.Session: its exit status, stop reasons and plugins."""
    plugins = {"terminalreporter": reporter}
    manager = SimpleNamespace(get_plugin=plugins.get)
    config = SimpleNamespace(pluginmanager=manager)
    return SimpleNamespace(exitstatus=exitstatus, shouldfail=False, shouldstop=False, config=config)


def records(passed: int, failed: int, minimum: float | None) -> dict[str, list[CaseRecord]]:
    """One suite's case records, `passed` of them passing, graded at `minimum`."""
    rows = [
        CaseRecord(
            suite="bot",
            case_id=f"c{n}",
            score=1.0 if n < passed else 0.0,
            threshold=0.5,
            passed=n < passed,
            min_pass_rate=minimum,
        )
        for n in range(passed + failed)
    ]
    return {"bot": rows}


def test_a_suite_under_its_pass_rate_fails_a_session_that_passed() -> None:
    session, gate = fake_session(), SessionGate()
    gate.check_pass_rates(session, OK, records(1, 1, 0.9))
    assert session.exitstatus == FAILED
    assert [(g.suite, g.passed, g.cases, g.failed) for g in gate.pass_rates] == [
        ("bot", 1, 2, True)
    ]


def test_a_suite_that_meets_its_pass_rate_or_has_none_changes_nothing() -> None:
    for graded in (records(2, 0, 0.9), records(0, 2, None)):
        session = fake_session()
        SessionGate().check_pass_rates(session, OK, graded)
        assert session.exitstatus == OK
    failed = fake_session(FAILED)
    SessionGate().check_pass_rates(failed, FAILED, records(1, 1, 0.9))
    assert failed.exitstatus == FAILED


def test_a_baseline_comparison_that_cannot_decide_fails_the_session_with_a_warning() -> None:
    session, gate = fake_session(), SessionGate()
    broken_db: Any = object()  # the comparison fails on it
    with pytest.warns(RuntimeWarning, match="could not compare with the baselines"):
        gate.check_baselines(session, broken_db, 1, records(1, 0, None), 0.05)
    assert session.exitstatus == FAILED and gate.baselines is None
    assert gate.baseline_error is not None and gate.baseline_error.endswith("the session fails")


def test_an_interrupted_session_is_not_compared_with_its_baselines() -> None:
    interrupted = int(pytest.ExitCode.INTERRUPTED)
    session, gate = fake_session(interrupted), SessionGate()
    broken_db: Any = object()
    gate.check_baselines(session, broken_db, 1, records(1, 0, None), 0.05)
    assert session.exitstatus == interrupted and gate.baseline_error is None


def test_a_database_error_is_said_once_and_fails_the_session() -> None:
    reporter = Reporter()
    session = fake_session(reporter=reporter)
    report_database_error(session, DatabaseError("the database is locked"))
    assert reporter.lines == ["promptopt error: the database is locked"]
    assert session.exitstatus == FAILED
    stopped = fake_session(reporter=reporter)
    stop_on_database_error(stopped, DatabaseError("first"))
    stop_on_database_error(stopped, DatabaseError("second"))
    assert stopped.shouldfail == "promptopt error: first"
    report_database_error(stopped, DatabaseError("first"))  # the stop reason said it already
    assert len(reporter.lines) == 1 and stopped.exitstatus == OK


def test_an_item_error_a_session_problem_caused_names_it_without_repeating_it() -> None:
    assert short_error("the judge failed") == "the judge failed"
    long = f"{NOT_RUN}bad noise; details that the session error already gives"
    assert short_error(long) == (
        f"{NOT_RUN}bad noise (the session error in the promptopt section says more)"
    )


def test_the_run_status_follows_the_exit_status() -> None:
    assert run_status(OK) == "passed"
    assert run_status(int(pytest.ExitCode.INTERRUPTED)) == "interrupted"
    assert run_status(FAILED) == run_status(int(pytest.ExitCode.USAGE_ERROR)) == "failed"
