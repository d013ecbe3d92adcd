"""The role of a session without xdist: judges, finishes the run and reports, in one process."""

from __future__ import annotations

import pytest

from pytest_promptopt.errors import DatabaseError, PromptOptError
from pytest_promptopt.integration.case_runner import CaseRunnerRole
from pytest_promptopt.integration.reporting_role import ReportingRole
from pytest_promptopt.integration.session_errors import report_database_error


class Alone(CaseRunnerRole, ReportingRole):
    """A session without xdist: judges, finishes the run and reports, all in this process."""

    name = "alone"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Check the pass rates, finish the run row, write the reports, release resources."""
        self.check_pass_rates(session, int(exitstatus))
        runtime = self.runtime_if_built()
        if runtime is None and self.joins_shards:
            runtime = self.runtime()  # a shard with no case still finishes its shard
        if runtime is None:
            return
        failure: PromptOptError | None = None
        try:
            if self.pairwise_wanted() and runtime.run.exists():
                # The pairwise judge calls the model: compare while the model service is open.
                runtime.recorder.flush()
                self.compare_runs(session, runtime, runtime.run_id)
            runtime.close(None)
            self.notes = self.optimize_notes(runtime)
            self.record_unrun(runtime)
            if runtime.run.exists() or self.joins_shards:
                self.finish_run(session, runtime, runtime.run_id)
        except DatabaseError as exc:
            failure = exc
        finally:
            runtime.dispose()
        if failure is not None:
            report_database_error(session, failure)
