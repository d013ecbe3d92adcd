"""Per-process state of a pytest session: its services, run row and suites, and its judging."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_promptopt.engine.problems import find_session_problems
from pytest_promptopt.engine.run_row import RunRow, sweep_abandoned_runs
from pytest_promptopt.engine.scheduler import CaseScheduler
from pytest_promptopt.engine.services import Services
from pytest_promptopt.engine.session_db import SessionDatabase
from pytest_promptopt.engine.suite_registry import SuiteRegistry, SuiteState
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.settings import Settings
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.answer import Answer
    from pytest_promptopt.evaluation.pairwise import PairCase, PairJudgement, PairJudging


class Runtime(Services):
    """Everything one pytest process needs to judge cases; heavy parts are built on first use.

    The services (`db`, `loop`, `llm`, `evaluator`, ...) are inherited from `Services`; the
    database is `database`, the run row `run`, the suites `suites`. It is what the case
    scheduler judges with; `close` ends the run and `dispose` releases everything.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session_uid: str | None = None,
        share_limit: bool = False,
        owner: tuple[str, int] | None = None,
    ) -> None:
        """`share_limit`: keep the adaptive concurrency limit in the database (xdist workers).

        `owner`: the (host, pid) of the process whose death abandons the run (default this
        one; an xdist worker names its controller).
        """
        uid = session_uid or uuid.uuid4().hex
        database = SessionDatabase(settings.db_url, on_open=sweep_abandoned_runs)
        run = RunRow(database, settings, uid, owner)
        super().__init__(settings, database, run, session_uid=uid, share_limit=share_limit)
        self.suites = SuiteRegistry(lambda: self.recorder)
        self.scheduler = CaseScheduler(self)
        self._lock = threading.Lock()
        self._problems: list[str] | None = None
        self._closed = False

    def session_problems(self) -> list[str]:
        """Causes that keep every item of the session from running, each said once."""
        with self._lock:
            if self._problems is None:
                self._problems = find_session_problems(self.settings)
            return list(self._problems)

    # What the scheduler asks of its runtime (`JudgingRuntime`).
    def register(self, suite: Suite, case: Case) -> None:
        """Register a suite (refusing another suite of its name) and a case's row."""
        self.suites.register(suite, case)

    def prefetch(self, jobs: Sequence[tuple[Suite, Case]]) -> None:
        """Load the cached answers of registered cases before they start."""
        registered = self.suites.registered
        self.evaluator.prefetch([(s, registered(s.name).prompt_text, c) for s, c in jobs])

    async def evaluate(self, suite: Suite, case: Case) -> CaseResult:
        """Judge a registered case with its suite's prompt and queue its rows (on the loop)."""
        state = self.suites.registered(suite.name)
        result = await self.evaluator.evaluate(suite, state.prompt_text, case)
        return self._recorded(state, case, result)

    async def judge(self, suite: Suite, case: Case, answer: Answer) -> CaseResult:
        """Check and judge an answer the team's test produced, and queue its rows (on the loop).

        Each distinct answer judged for a case is its own sample (its own evaluation row)."""
        state = self.suites.register(suite, case)
        sample = self.suites.sample_of(suite.name, case.id, (answer.text, answer.tool_calls))
        result = await self.evaluator.judge_answer(
            suite, state.prompt_text, case, answer, sample=sample
        )
        return self._recorded(state, case, result)

    def _recorded(self, state: SuiteState, case: Case, result: CaseResult) -> CaseResult:
        """The result with its prompt and case rows, its samples queued for writing."""
        result.prompt_id = state.prompt_id
        result.test_case_id = state.case_ids[case.id]
        if result.samples:
            self.recorder.add_result(result)
        return result

    def pair_judging(self) -> PairJudging:
        """The pairwise judge on this process's model service, run on its loop (blocking)."""
        from pytest_promptopt.evaluation.pairwise import PairwiseJudge

        judge = PairwiseJudge(self.llm, model=self.settings.effective_judge_model)

        def judging(cases: Sequence[PairCase], label: str) -> dict[str, PairJudgement]:
            return self.loop.run(judge.judge_cases(cases, label))

        return judging

    def close(self, status: str | None) -> None:
        """Flush writes, mark the run finished (when given a status) and stop the loop."""
        if self._closed:
            return
        self._closed = True
        self.run.stop_heartbeat()
        self.close_services()
        if status is not None and self.run.exists():
            self.run.finish(self.run.id, status)

    def dispose(self) -> None:
        """Release everything: flush, close the loop and clients, dispose the database.

        Idempotent; the run's status is left as it is (`close` sets it). Waits for a
        background open first, so no connection pool outlives this.
        """
        self.database.await_background()
        self.close(None)
        self.release_services()
