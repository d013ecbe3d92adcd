"""How database errors and session-wide problems reach the terminal: once, in one line each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from pytest_promptopt.errors import DatabaseError, PromptOptError
from pytest_promptopt.integration import internals


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
