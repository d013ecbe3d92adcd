"""Per-process state of a pytest session: settings, database, run row, model service, results."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.llm.limiter import call_priority
from pytest_promptopt.settings import Settings
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.engine.loop import LoopThread
    from pytest_promptopt.engine.recorder import Recorder
    from pytest_promptopt.evaluation.evaluator import Evaluator
    from pytest_promptopt.llm.budget import Budget
    from pytest_promptopt.llm.clients import ClientPool
    from pytest_promptopt.llm.service import LLMService
    from pytest_promptopt.storage.database import Database

CaseKey = tuple[str, str]


@dataclass
class SuiteState:
    """A suite as judged in this run: the prompt under test and the case row ids."""

    suite: Suite
    prompt_id: int
    prompt_text: str
    case_ids: dict[str, int] = field(default_factory=dict)


def _differ(a: Suite, b: Suite) -> bool:
    """True when two suites of one name would judge differently (the prompt or a shared case)."""
    if (a.prompt, a.model, a.criteria) != (b.prompt, b.model, b.criteria):
        return True
    mine = {c.id: c for c in a.cases}
    return any(c.id in mine and mine[c.id] != c for c in b.cases)


class Runtime:
    """Everything one pytest process needs to judge cases; heavy parts are built on first use."""

    def __init__(self, settings: Settings, *, session_uid: str | None = None) -> None:
        self.settings = settings
        self.session_uid = session_uid or uuid.uuid4().hex
        self.mode = "optimize" if settings.optimize else "test"
        self.suites: dict[str, SuiteState] = {}
        self.prompt_overrides: dict[str, tuple[int, str]] = {}
        self.optimize_outcomes: dict[str, Any] = {}
        self._futures: dict[CaseKey, concurrent.futures.Future[CaseResult]] = {}
        self._sequence = itertools.count()
        self._lock = threading.RLock()
        self._closed = False
        self._opener: threading.Thread | None = None
        self._warming = False

    # --- lazily built parts -------------------------------------------------------------
    @cached_property
    def db(self) -> Database:
        """The database, migrated to the current schema."""
        from pytest_promptopt.imports import long_lived_imports

        with long_lived_imports():
            from pytest_promptopt.storage.database import Database

        db = Database(self.settings.db_url)
        try:
            db.ensure_schema()
        except BaseException:
            db.dispose()
            raise
        return db

    def open_db_in_background(self) -> None:
        """Import SQLAlchemy and open the database on a thread, for an otherwise idle process.

        An xdist controller only waits while its workers judge; this way the reports at the
        end do not start with the imports. A failure here is left for the real use to report.
        """
        if self._opener is not None or "db" in self.__dict__:
            return

        def open_db() -> None:
            with contextlib.suppress(Exception):  # opened again, and reported, where it is used
                self.db  # noqa: B018 (the cached property does the work)

        self._opener = threading.Thread(target=open_db, name="promptopt-db-open", daemon=True)
        self._opener.start()

    def await_background(self) -> None:
        """Wait for `open_db_in_background` to finish, if it was started."""
        if self._opener is not None:
            self._opener.join()
            self._opener = None

    @cached_property
    def run_id(self) -> int:
        """The id of this session's `optimization_runs` row (shared by xdist workers)."""
        from pytest_promptopt.storage.repositories import RunRepository

        with self.db.session_scope() as session:
            run = RunRepository(session).create(
                self.session_uid, self.mode, self.settings.public_dict()
            )
            return int(run.id)

    def adopt_run(self, run_id: int) -> None:
        """Continue an earlier run as this session's run (--promptopt-resume)."""
        if "run_id" in self.__dict__ and self.__dict__["run_id"] != run_id:
            raise RuntimeError("adopt_run must come before this session's run row is created")
        from pytest_promptopt.storage.repositories import RunRepository

        with self.db.session_scope() as session:
            RunRepository(session).reopen(run_id, self.session_uid)
        self.__dict__["run_id"] = run_id

    @cached_property
    def loop(self) -> LoopThread:
        """The background event loop model calls run on."""
        from pytest_promptopt.engine.loop import LoopThread

        return LoopThread()

    @cached_property
    def budget(self) -> Budget:
        """Caps on calls and spend for this session (kept in the database when capped)."""
        from pytest_promptopt.llm.budget import Budget, SharedBudget

        s = self.settings
        if s.max_calls is None and s.budget_usd is None:
            return Budget()
        return SharedBudget(self.db, self.session_uid, s.max_calls, s.budget_usd)

    @cached_property
    def llm(self) -> LLMService:
        """The caching, budgeted model service."""
        from pytest_promptopt.llm.callstore import CallStore
        from pytest_promptopt.llm.service import LLMService

        s = self.settings
        return LLMService(
            store=CallStore(self.db),
            budget=self.budget,
            cache_mode=s.cache_mode,
            concurrency=s.concurrency,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            run_id=self.run_id,
            clients=self.clients,
        )

    @cached_property
    def clients(self) -> ClientPool:
        """The SDK clients (built on the loop thread, where they are used)."""
        from pytest_promptopt.llm.clients import ClientPool

        return ClientPool(timeout_s=self.settings.timeout_s, max_retries=self.settings.max_retries)

    def warm_up(self) -> None:
        """Start importing the SDK on the loop thread, while this thread carries on.

        Only when calls are certain (cache off or refresh): a cached run never imports it. The
        clients themselves are built at first use, so they read the environment as it is then.
        """
        if self._warming or self.settings.cache_mode not in ("off", "refresh"):
            return
        self._warming = True

        async def import_sdk() -> None:
            from pytest_promptopt.llm.clients import import_sdk

            import_sdk()

        self.loop.submit(import_sdk())

    @cached_property
    def evaluator(self) -> Evaluator:
        """Judges cases with the configured models."""
        from pytest_promptopt.evaluation.evaluator import Evaluator

        s = self.settings
        return Evaluator(
            self.llm, model=s.model, judge_model=s.effective_judge_model, threshold=s.threshold
        )

    @cached_property
    def recorder(self) -> Recorder:
        """Writes prompts, cases and evaluations of this run."""
        from pytest_promptopt.engine.recorder import Recorder

        return Recorder(self.db, self.run_id)

    # --- judging cases ------------------------------------------------------------------
    def suite_state(self, suite: Suite) -> SuiteState:
        """The registered state of a suite, registering prompt and cases on first use."""
        with self._lock:
            state = self.suites.get(suite.name)
            if state is not None and state.suite is not suite and _differ(state.suite, suite):
                from pytest_promptopt.errors import SuiteError

                raise SuiteError(
                    f"suite name {suite.name!r} is used by two different suites (another prompt "
                    "or other cases): results are recorded by suite name, so give each its "
                    "own `name`"
                )
            if state is None:
                if suite.name in self.prompt_overrides:
                    prompt_id, text = self.prompt_overrides[suite.name]
                else:
                    text = suite.system_template
                    prompt_id = self.recorder.register_prompt(suite, text)
                state = SuiteState(suite, prompt_id, text)
                self.suites[suite.name] = state
            if len(state.case_ids) < len(suite.cases):
                missing = [c for c in suite.cases if c.id not in state.case_ids]
                if missing:
                    state.case_ids.update(self.recorder.register_cases(suite, missing))
            return state

    def schedule(self, jobs: Sequence[tuple[Suite, Case]]) -> None:
        """Start evaluating cases in the background; a case already started is not started again."""
        self.warm_up()
        with self._lock:
            fresh: list[tuple[Suite, Case]] = []
            seen: set[CaseKey] = set()
            for suite, case in jobs:
                state = self.suite_state(suite)  # first: refuses a different suite of one name
                key = (suite.name, case.id)
                if key in self._futures or key in seen:
                    continue
                seen.add(key)
                if case.id not in state.case_ids:  # a Python-API case outside suite.cases
                    state.case_ids.update(self.recorder.register_cases(suite, [case]))
                fresh.append((suite, case))
            # Cached answers for the whole batch in two queries, before the cases start.
            self.evaluator.prefetch([(s, self.suites[s.name].prompt_text, c) for s, c in fresh])
            batch = []
            for suite, case in fresh:
                future: concurrent.futures.Future[CaseResult] = concurrent.futures.Future()
                self._futures[(suite.name, case.id)] = future
                batch.append((suite, case, future))
            if batch:
                # One hand-off to the loop per batch, not one per case.
                self.loop.submit(self._evaluate_batch(batch))

    async def _evaluate_batch(
        self, batch: list[tuple[Suite, Case, concurrent.futures.Future[CaseResult]]]
    ) -> None:
        """Evaluate cases concurrently, each resolving its own future as soon as it is done."""

        async def one(
            suite: Suite, case: Case, future: concurrent.futures.Future[CaseResult]
        ) -> None:
            call_priority.set(next(self._sequence))  # earlier cases' calls go first
            try:
                future.set_result(await self._evaluate(suite, case))
            except BaseException as exc:  # the waiting item reports it
                future.set_exception(exc)

        await asyncio.gather(*(one(*job) for job in batch))

    async def _evaluate(self, suite: Suite, case: Case) -> CaseResult:
        state = self.suites[suite.name]
        result = await self.evaluator.evaluate(suite, state.prompt_text, case)
        result.prompt_id = state.prompt_id
        result.test_case_id = state.case_ids[case.id]
        if result.samples:
            self.recorder.add_result(result)
        return result

    def result(self, suite: Suite, case: Case) -> CaseResult:
        """The result of a case, evaluating it now if nobody scheduled it."""
        self.schedule([(suite, case)])
        return self._futures[(suite.name, case.id)].result()

    def result_with_lookahead(
        self, suite: Suite, case: Case, upcoming: Callable[[], Sequence[tuple[Suite, Case]]]
    ) -> CaseResult:
        """Like `result`, but first starts the cases that will be asked for next."""
        self.schedule([(suite, case), *upcoming()])
        return self._futures[(suite.name, case.id)].result()

    def release_results(self) -> None:
        """Forget finished results (after the session's summary is written)."""
        with self._lock:
            self._futures.clear()

    # --- end of session -----------------------------------------------------------------
    def existing_run_id(self) -> int | None:
        """This session's run id if some process created the row, without creating it."""
        if "run_id" in self.__dict__:
            return self.run_id
        from pytest_promptopt.storage.repositories import RunRepository

        with self.db.session_scope() as session:
            run = RunRepository(session).by_uid(self.session_uid)
            return None if run is None else int(run.id)

    def mark_finished(self, run_id: int, status: str) -> None:
        """Set the run's final status and end time."""
        from pytest_promptopt.storage.repositories import RunRepository

        with self.db.session_scope() as session:
            RunRepository(session).finish(run_id, status)

    def has_run(self) -> bool:
        """True once this process created or adopted its run row."""
        return "run_id" in self.__dict__

    def db_if_open(self) -> Database | None:
        """The database if something opened it, without opening it."""
        db: Database | None = self.__dict__.get("db")
        return db

    # --- closing -----------------------------------------------------------------
    def close(self, status: str | None) -> None:
        """Flush writes, mark the run finished (when given a status) and stop the loop."""
        if self._closed:
            return
        self._closed = True
        if "loop" in self.__dict__:
            if "llm" in self.__dict__:
                self.loop.run(self.llm.aclose())
            self.loop.stop()
        if "recorder" in self.__dict__:
            self.recorder.flush()
        if status is not None and "run_id" in self.__dict__:
            self.mark_finished(self.run_id, status)

    def dispose(self) -> None:
        """Close (without a status, if not closed yet) and release the database's connections."""
        self.close(None)
        self.await_background()
        db = self.db_if_open()
        if db is not None:
            db.dispose()
