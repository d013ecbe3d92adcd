"""End of a session: close the runtime, mark the run, build and write the reports."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_promptopt.integration.session import PromptOptSession


def run_status(exitstatus: int) -> str:
    """The run status for pytest's exit status."""
    if exitstatus == pytest.ExitCode.OK:
        return "passed"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    return "failed"


def finish_session(session: PromptOptSession, exitstatus: int) -> Path | None:
    """Close this process's runtime; on the controller also finish the run and write reports."""
    runtime = session.runtime_if_built
    status = None if session.is_worker else run_status(exitstatus)
    if runtime is not None:
        runtime.close(status)
    if session.is_worker or (session.summary is None and runtime is not None):
        if runtime is not None:
            runtime.dispose()
        return None
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.reporting.build import build_report
    from pytest_promptopt.reporting.writers import write_reports

    # Under xdist the controller judged nothing itself: it opens the database just to finish
    # (usually already opened in the background while the workers judged).
    owner = (
        runtime or session.finisher or Runtime(session.settings, session_uid=session.session_uid)
    )
    try:
        owner.await_background()
        run_id = owner.existing_run_id()
        if run_id is None:
            return None
        if runtime is None:
            owner.mark_finished(run_id, status or "failed")
        if session.summary is None:  # stopped before any case reported: nothing to show
            return None
        report = build_report(owner.db, run_id, session.summary)
        session.report = report
        paths = write_reports(report, session.settings.report_dir)
        return paths.run_dir
    except Exception as exc:  # reports must never turn a finished session into a crash
        warnings.warn(f"promptopt: could not write reports: {exc}", RuntimeWarning, stacklevel=1)
        return None
    finally:
        owner.dispose()
