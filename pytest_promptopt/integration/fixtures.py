"""The `promptopt` and `promptopt_run` fixtures: the Python API over the suite machinery."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.integration.role import role_of

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic

    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.evaluation.results import CaseResult
    from pytest_promptopt.storage.database import Database
    from pytest_promptopt.storage.repositories import Repositories
    from pytest_promptopt.suites.spec import Case, Suite


class RunHandle:
    """This session's run: its id, the database and the repositories."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def run_id(self) -> int:
        """The `optimization_runs` id of this pytest session."""
        return self._runtime.run_id

    @property
    def database(self) -> Database:
        """The database the run is recorded in."""
        return self._runtime.db

    @contextmanager
    def repositories(self) -> Iterator[Repositories]:
        """Repositories bound to one transaction (committed when the block ends cleanly)."""
        from pytest_promptopt.storage.repositories import transaction

        self._runtime.recorder.flush()
        with transaction(self.database) as repos:
            yield repos


class PromptOpt:
    """Judges cases from Python tests and records them in the session's run."""

    def __init__(self, runtime: Runtime, node: pytest.Item) -> None:
        self._runtime = runtime
        self._node = node

    def evaluate(self, suite: Suite, case: Case | str) -> CaseResult:
        """Judge one case of a suite with the suite's prompt; returns passed, score, explain()."""
        if isinstance(case, str):
            case = suite.case(case)
        result = self._runtime.scheduler.result(suite, case)
        from pytest_promptopt.evaluation.record import case_record

        self._node.user_properties.extend(case_record(result).to_properties())
        return result

    def judge(self, suite: Suite, case: Case | str, answer: Any) -> CaseResult:
        """Check and judge an answer your code produced (`str` or `Message`); records it."""
        from pytest_promptopt.evaluation.own_code import answer_of
        from pytest_promptopt.evaluation.record import case_record

        if isinstance(case, str):
            case = suite.case(case)
        given = answer_of(answer, "promptopt.judge was given")
        result = self._runtime.loop.run(self._runtime.judge(suite, case, given))
        self._node.user_properties.extend(case_record(result).to_properties())
        return result

    @property
    def client(self) -> Anthropic:
        """An `anthropic.Anthropic` for your code under test: cached, capped and recorded."""
        return self._runtime.wired.sync

    @property
    def async_client(self) -> AsyncAnthropic:
        """An `anthropic.AsyncAnthropic` for your code under test: cached, capped and recorded."""
        return self._runtime.wired.async_


@pytest.fixture(scope="session")
def promptopt_run(request: pytest.FixtureRequest) -> RunHandle:
    """This session's run: `run_id`, `database` and `repositories()`."""
    return RunHandle(role_of(request.config).runtime())


@pytest.fixture
def promptopt(request: pytest.FixtureRequest) -> Iterator[PromptOpt]:
    """Judge from Python: `evaluate(suite, case)`, `judge(suite, case, answer)`, `client`."""
    from pytest_promptopt.llm.wired import CallScope, call_scope

    # The wired clients' calls made by this test are labelled with its node id.
    with call_scope(CallScope(label=request.node.nodeid)):
        yield PromptOpt(role_of(request.config).runtime(), request.node)
