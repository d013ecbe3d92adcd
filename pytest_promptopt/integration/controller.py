"""The role of the xdist controller: hands out items, gathers records, finishes the run."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.errors import DatabaseError, PromptOptError
from pytest_promptopt.integration import internals
from pytest_promptopt.integration.handoff import (
    OPTIMIZED_KEY,
    OWNER_KEY,
    RUN_ID_KEY,
    SESSION_UID_KEY,
)
from pytest_promptopt.integration.reporting_role import ReportingRole
from pytest_promptopt.integration.session_errors import announce_problems, report_database_error
from pytest_promptopt.suites import SUITE_SUFFIXES

if TYPE_CHECKING:
    from pytest_promptopt.settings import Settings


class Controller(ReportingRole):
    """The xdist controller: judges nothing; it gathers the workers' case records and finishes
    the run on every path (a worker that died sent nothing, so it also looks the run up by
    session uid)."""

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
        """Check the pass rates, mark the workers' run finished (found by session uid if none
        reported) and report."""
        self.check_pass_rates(session, int(exitstatus))
        if not (
            self._reported_run_ids
            or self._cases_collected
            or self.summary is not None
            or self.joins_shards
        ):
            return
        owner = self.runtime()
        failure: PromptOptError | None = None
        try:
            owner.database.await_background()
            run_id = owner.run.id_if_created()
            if run_id is None and (self.record_unrun(owner) or self.joins_shards):
                run_id = owner.run_id
            if run_id is None:
                return
            self.finish_run(session, owner, run_id)
        except DatabaseError as exc:
            failure = exc
        finally:
            owner.dispose()
        if failure is not None:
            report_database_error(session, failure)
