"""Per-process state of a pytest session: settings, database, run row, model service, results."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pytest_promptopt.engine.scheduler import CaseScheduler
from pytest_promptopt.errors import DatabaseError, PromptOptError, RunBusyError
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.settings import SIMULATED_MODEL, Settings
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.engine.heartbeat import RunHeartbeat
    from pytest_promptopt.engine.loop import LoopThread
    from pytest_promptopt.engine.recorder import Recorder
    from pytest_promptopt.evaluation.answer import Answer
    from pytest_promptopt.evaluation.evaluator import Evaluator
    from pytest_promptopt.llm.batches import BatchCollector
    from pytest_promptopt.llm.budget import Budget
    from pytest_promptopt.llm.clients import ClientPool
    from pytest_promptopt.llm.service import LLMService
    from pytest_promptopt.llm.wired import WiredClients
    from pytest_promptopt.storage.database import Database
    from pytest_promptopt.storage.repositories import Owner


@dataclass
class SuiteState:
    """A suite as judged in this run: the prompt under test and the case row ids."""

    suite: Suite
    prompt_id: int
    prompt_text: str
    case_ids: dict[str, int] = field(default_factory=dict)


class SuiteOutcome(Protocol):
    """What the runtime keeps of a suite's optimization (an `OptimizeOutcome`)."""

    @property
    def suite(self) -> str:
        """The suite's name."""

    def describe(self) -> str:
        """One line for the terminal."""


def _differ(a: Suite, b: Suite) -> bool:
    """True when two suites of one name would judge differently (the prompt or a shared case)."""
    if (a.prompt, a.model, a.criteria) != (b.prompt, b.model, b.criteria):
        return True
    mine = {c.id: c for c in a.cases}
    return any(c.id in mine and mine[c.id] != c for c in b.cases)


def _copy_of_stderr() -> int | None:
    """A duplicate of file descriptor 2, or None when there is none."""
    try:
        return os.dup(2)
    except OSError:
        return None


class Runtime:
    """Everything one pytest process needs to judge cases; heavy parts are built on first use.

    Each part is a private optional set by its accessor; `db_if_open` says whether the database
    was opened, `close` ends the run and `dispose` releases everything.
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
        self.settings = settings
        self.owner = owner
        self.session_uid = session_uid or uuid.uuid4().hex
        self.share_limit = share_limit
        self.mode = "optimize" if settings.optimize else "test"
        self.scheduler = CaseScheduler(self)
        self._suites: dict[str, SuiteState] = {}
        self._prompts: dict[str, tuple[int, str]] = {}
        self._outcomes: dict[str, SuiteOutcome] = {}
        self._lock = threading.RLock()  # the suite registry
        self._parts = threading.RLock()  # building the parts below
        self._db: Database | None = None
        self._db_error: DatabaseError | None = None
        self._run_id: int | None = None
        self._loop: LoopThread | None = None
        self._budget: Budget | None = None
        self._clients: ClientPool | None = None
        self._llm: LLMService | None = None
        self._evaluator: Evaluator | None = None
        self._recorder: Recorder | None = None
        self._wired: WiredClients | None = None
        self._opener: threading.Thread | None = None
        self._heartbeat: RunHeartbeat | None = None
        self._warming = False
        # --promptopt-batch prints progress while items wait; a copy of stderr taken now, while
        # nothing is captured, still reaches the terminal when pytest captures an item's output.
        self._stderr_fd = _copy_of_stderr() if settings.batch else None
        self._closed = False
        self._disposed = False
        self._problems: list[str] | None = None  # session-wide causes, found at the start
        self._judged: dict[tuple[str, str], list[tuple[str, object]]] = {}  # promptopt.judge

    # --- session-wide problems ----------------------------------------------------------
    def session_problems(self) -> list[str]:
        """Causes that keep every item of the session from running, each said once.

        Found at the start (a bad PROMPTOPT_SIMULATED_JUDGE_NOISE); others are declared as they
        are found (no credentials at the first call that needed them; a database that cannot
        be opened). Items consult the first one and report `not run: <cause>`.
        """
        with self._lock:
            if self._problems is None:
                self._problems = []
                if self.settings.uses_simulator:
                    from pytest_promptopt.errors import ConfigError
                    from pytest_promptopt.simulator.judge import noise_from_env

                    try:
                        noise_from_env()
                    except ConfigError as exc:
                        self._problems.append(str(exc))
            return list(self._problems)

    def declare_problem(self, cause: str) -> None:
        """Make `cause` a session-wide problem: the items that follow are not run for it."""
        with self._lock:
            problems = self.session_problems()
            if cause not in problems:
                assert self._problems is not None
                self._problems.append(cause)

    # --- the database and the run row -------------------------------------------------
    @property
    def db(self) -> Database:
        """The database, migrated to the current schema (opened on first use).

        A database that cannot be opened raises the same `DatabaseError` on every later use
        (tried once), with no traceback below this frame: the frames under it hold the URL.
        """
        with self._parts:
            if self._db is None:
                if self._db_error is None:
                    self._db_error = self._open_db()
                if self._db_error is not None:
                    raise self._db_error.with_traceback(None)
            assert self._db is not None
            return self._db

    def _open_db(self) -> DatabaseError | None:
        """Open and migrate the database into `_db`; the error instead when that fails."""
        from pytest_promptopt.imports import long_lived_imports

        with long_lived_imports():
            from pytest_promptopt.storage.database import Database
        try:
            db = Database(self.settings.db_url)
        except DatabaseError as exc:
            return exc.with_traceback(None)
        try:
            db.ensure_schema()
        except DatabaseError as exc:
            db.dispose()
            return exc.with_traceback(None)
        except BaseException:
            db.dispose()
            raise
        self._db = db
        self._sweep_runs(db)
        return None

    @property
    def db_error(self) -> DatabaseError | None:
        """Why the database could not be opened, once a use tried and failed."""
        return self._db_error

    def db_if_open(self) -> Database | None:
        """The database when something opened it and it is not disposed, else None."""
        return None if self._disposed else self._db

    def open_db_in_background(self) -> None:
        """Import SQLAlchemy and open the database on a thread, for an otherwise idle process.

        An xdist controller only waits while its workers judge; this way the reports at the
        end do not start with the imports. A failure here is left for the real use to report.
        """
        if self._opener is not None or self._db is not None:
            return

        def open_db() -> None:
            with contextlib.suppress(Exception):  # opened again, and reported, where it is used
                self.db  # noqa: B018 (the accessor does the work)

        self._opener = threading.Thread(target=open_db, name="promptopt-db-open", daemon=True)
        self._opener.start()

    def await_background(self) -> None:
        """Wait for `open_db_in_background` to finish, if it was started."""
        if self._opener is not None:
            self._opener.join()
            self._opener = None

    @property
    def run_id(self) -> int:
        """The id of this session's `optimization_runs` row (shared by xdist workers)."""
        with self._parts:
            if self._run_id is None:
                from pytest_promptopt.storage.repositories import RunRepository

                with self.db.session_scope() as session:
                    run = RunRepository(session).create(
                        self.session_uid, self.mode, self.settings.public_dict(), self._owner()
                    )
                    self._run_id = int(run.id)
                self._start_heartbeat(self._run_id)
            return self._run_id

    def _owner(self) -> Owner:
        from pytest_promptopt.storage.repositories import Owner

        return Owner(*self.owner) if self.owner is not None else Owner.this_process()

    def _start_heartbeat(self, run_id: int) -> None:
        """Renew the run's heartbeat while this process runs it (see `RunRepository`)."""
        from pytest_promptopt.engine.heartbeat import RunHeartbeat
        from pytest_promptopt.storage.repositories import HEARTBEAT_S

        if self._heartbeat is None:
            self._heartbeat = RunHeartbeat(self.db, run_id, self.session_uid, HEARTBEAT_S)

    def _sweep_runs(self, db: Database) -> None:
        """Mark `abandoned` the runs whose owner is gone (a courtesy: failures are ignored)."""
        from pytest_promptopt.storage.repositories import transaction

        with contextlib.suppress(PromptOptError), transaction(db) as repos:
            repos.runs.mark_abandoned()

    def adopt_run(self, run_id: int) -> None:
        """Continue an earlier run as this session's run (--promptopt-resume).

        Claims the run (compare-and-set on its version): a `RunBusyError` naming the host,
        pid and last heartbeat of the process that holds it when another session runs it.
        """
        with self._parts:
            if self._run_id is not None and self._run_id != run_id:
                raise RuntimeError("adopt_run must come before this session's run row is created")
            from pytest_promptopt.storage.repositories import Holder, RunRepository

            with self.db.session_scope() as session:
                claimed = RunRepository(session).claim(run_id, self.session_uid, self._owner())
            if isinstance(claimed, Holder):
                raise RunBusyError(claimed.describe())
            self._run_id = run_id
            self._start_heartbeat(run_id)

    def has_run(self) -> bool:
        """True once this process created or adopted its run row."""
        return self._run_id is not None

    def existing_run_id(self) -> int | None:
        """This session's run id if some process created the row, without creating it."""
        if self._run_id is not None:
            return self._run_id
        from pytest_promptopt.storage.repositories import RunRepository

        with self.db.session_scope() as session:
            run = RunRepository(session).by_uid(self.session_uid)
            return None if run is None else int(run.id)

    def mark_finished(self, run_id: int, status: str) -> None:
        """Set the run's final status and end time."""
        from pytest_promptopt.storage.repositories import RunRepository

        with self.db.session_scope() as session:
            RunRepository(session).finish(run_id, status)

    # --- services ---------------------------------------------------------------------
    @property
    def loop(self) -> LoopThread:
        """The background event loop model calls run on."""
        with self._parts:
            if self._loop is None:
                from pytest_promptopt.engine.loop import LoopThread

                self._loop = LoopThread()
            return self._loop

    @property
    def budget(self) -> Budget:
        """Caps on calls and spend for this session (kept in the database when capped)."""
        with self._parts:
            if self._budget is None:
                from pytest_promptopt.llm.budget import Budget, SharedBudget

                s = self.settings
                if s.max_calls is None and s.budget_usd is None:
                    self._budget = Budget()
                else:
                    self._budget = SharedBudget(
                        self.db, self.session_uid, s.max_calls, s.budget_usd
                    )
            return self._budget

    @property
    def clients(self) -> ClientPool:
        """The SDK clients (built on the loop thread, where they are used)."""
        with self._parts:
            if self._clients is None:
                from pytest_promptopt.llm.clients import ClientPool

                s = self.settings
                self._clients = ClientPool(timeout_s=s.timeout_s, max_retries=s.max_retries)
            return self._clients

    @property
    def llm(self) -> LLMService:
        """The caching, budgeted model service."""
        with self._parts:
            if self._llm is None:
                from pytest_promptopt.llm.callstore import CallStore
                from pytest_promptopt.llm.pricing import PriceTable
                from pytest_promptopt.llm.service import LLMService
                from pytest_promptopt.llm.sharedlimit import DatabaseLimit

                s = self.settings
                shared = (
                    DatabaseLimit(self.db, self.session_uid, s.concurrency)
                    if self.share_limit
                    else None
                )
                self._llm = LLMService(
                    store=CallStore(self.db, cache_file=s.cache_file),
                    budget=self.budget,
                    cache_mode=s.cache_mode,
                    concurrency=s.concurrency,
                    timeout_s=s.timeout_s,
                    max_retries=s.max_retries,
                    run_id=self.run_id,
                    clients=self.clients,
                    shared_limit=shared,
                    prices=PriceTable.from_settings(s.prices),
                    batches=self._batch_collector() if s.batch else None,
                    role_params={
                        "judge": s.judge_params or {},
                        "generate": s.optimizer_params or {},
                        "analyze": s.optimizer_params or {},
                    },
                    offline=s.model == SIMULATED_MODEL,
                    describe_first=tuple(
                        dict.fromkeys(
                            [s.effective_judge_model]
                            + ([s.effective_optimizer_model] if s.optimize else [])
                        )
                    ),
                )
            return self._llm

    def limit_history(self) -> str | None:
        """How the adaptive concurrency limit moved in this session, or None when it held.

        This process's limiter when it kept its own; else the session's shared row (the xdist
        controller reads what its workers wrote).
        """
        if self._llm is not None and not self.share_limit:
            return self._llm.limiter.describe()
        db = self.db_if_open()
        if db is None:
            return None
        from pytest_promptopt.llm.sharedlimit import describe_session_limit

        return describe_session_limit(db, self.session_uid)

    def _batch_collector(self) -> BatchCollector:
        """--promptopt-batch: the collector, with progress lines on the terminal's stderr."""
        from pytest_promptopt.llm.batches import BatchCollector

        return BatchCollector(
            self.clients, self.db, run_id=self.run_id, progress=self._progress_line
        )

    def _progress_line(self, text: str) -> None:
        """One progress line on the real stderr (pytest's capture of a running item bypassed)."""
        if self._stderr_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._stderr_fd, (text + "\n").encode(errors="replace"))

    @property
    def evaluator(self) -> Evaluator:
        """Judges cases with the configured models."""
        with self._parts:
            if self._evaluator is None:
                from pytest_promptopt.evaluation.evaluator import Evaluator

                s = self.settings
                self._evaluator = Evaluator(
                    self.llm,
                    model=s.model,
                    judge_model=s.effective_judge_model,
                    threshold=s.threshold,
                    target_workers=max(8, s.concurrency),
                    judge_repeats=s.judge_repeats,
                    check_timeout_s=s.check_timeout_s,
                )
            return self._evaluator

    @property
    def wired(self) -> WiredClients:
        """The SDK clients handed to the team's tests, their calls going through `llm`."""
        with self._parts:
            if self._wired is None:
                from pytest_promptopt.llm.wired import WiredClients

                self._wired = WiredClients(self.llm, self.loop.loop)
            return self._wired

    @property
    def recorder(self) -> Recorder:
        """Writes prompts, cases and evaluations of this run."""
        with self._parts:
            if self._recorder is None:
                from pytest_promptopt.engine.recorder import Recorder

                self._recorder = Recorder(self.db, self.run_id)
            return self._recorder

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

    # --- prompts and outcomes of --optimize ---------------------------------------------
    def use_prompt(self, suite_name: str, prompt_id: int, text: str) -> None:
        """Judge a suite's cases with this prompt row instead of the suite's own prompt."""
        with self._lock:
            self._prompts[suite_name] = (prompt_id, text)

    def record_outcome(self, outcome: SuiteOutcome) -> None:
        """Keep what optimizing a suite produced, for the terminal summary."""
        with self._lock:
            self._outcomes[outcome.suite] = outcome

    def outcome(self, suite_name: str) -> SuiteOutcome | None:
        """The optimize outcome of a suite, if this process optimized it."""
        return self._outcomes.get(suite_name)

    def outcomes(self) -> list[SuiteOutcome]:
        """Every optimize outcome of this process, in the order the suites were optimized."""
        return list(self._outcomes.values())

    def judged_prompt(self, suite_name: str) -> str | None:
        """The prompt text this process judged a suite's cases with (None: it judged none)."""
        state = self._suites.get(suite_name)
        return None if state is None else state.prompt_text

    # --- what the scheduler asks of its runtime -----------------------------------------
    def suite_state(self, suite: Suite) -> SuiteState:
        """The registered state of a suite, registering prompt and cases on first use."""
        with self._lock:
            state = self._suites.get(suite.name)
            if state is not None and state.suite is not suite and _differ(state.suite, suite):
                from pytest_promptopt.errors import SuiteError

                raise SuiteError(
                    f"suite name {suite.name!r} is used by two different suites (another prompt "
                    "or other cases): results are recorded by suite name, so give each its "
                    "own `name`"
                )
            if state is None:
                if suite.name in self._prompts:
                    prompt_id, text = self._prompts[suite.name]
                else:
                    text = suite.system_template
                    prompt_id = self.recorder.register_prompt(suite, text)
                state = SuiteState(suite, prompt_id, text)
                self._suites[suite.name] = state
            if len(state.case_ids) < len(suite.cases):
                missing = [c for c in suite.cases if c.id not in state.case_ids]
                if missing:
                    state.case_ids.update(self.recorder.register_cases(suite, missing))
            return state

    def register(self, suite: Suite, case: Case) -> None:
        """Register a suite (refusing another suite of its name) and a case's row."""
        with self._lock:
            state = self.suite_state(suite)
            if case.id not in state.case_ids:  # a Python-API case outside suite.cases
                state.case_ids.update(self.recorder.register_cases(suite, [case]))

    def prefetch(self, jobs: Sequence[tuple[Suite, Case]]) -> None:
        """Load the cached answers of registered cases before they start."""
        self.evaluator.prefetch([(s, self._suites[s.name].prompt_text, c) for s, c in jobs])

    async def evaluate(self, suite: Suite, case: Case) -> CaseResult:
        """Judge a registered case with its suite's prompt and queue its rows (on the loop)."""
        state = self._suites[suite.name]
        result = await self.evaluator.evaluate(suite, state.prompt_text, case)
        result.prompt_id = state.prompt_id
        result.test_case_id = state.case_ids[case.id]
        if result.samples:
            self.recorder.add_result(result)
        return result

    async def judge(self, suite: Suite, case: Case, answer: Answer) -> CaseResult:
        """Check and judge an answer the team's test produced, and queue its rows (on the loop).

        Each distinct answer judged for a case is its own sample (its own evaluation row)."""
        self.register(suite, case)
        state = self._suites[suite.name]
        with self._lock:
            answers = self._judged.setdefault((suite.name, case.id), [])
            if (answer.text, answer.tool_calls) not in answers:
                answers.append((answer.text, answer.tool_calls))
            sample = answers.index((answer.text, answer.tool_calls))
        result = await self.evaluator.judge_answer(
            suite, state.prompt_text, case, answer, sample=sample
        )
        result.prompt_id = state.prompt_id
        result.test_case_id = state.case_ids[case.id]
        if result.samples:
            self.recorder.add_result(result)
        return result

    # --- closing ------------------------------------------------------------------------
    def close(self, status: str | None) -> None:
        """Flush writes, mark the run finished (when given a status) and stop the loop."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._evaluator is not None:
            self._evaluator.close()
        if self._loop is not None:
            if self._llm is not None:
                self._loop.run(self._llm.aclose())
            self._loop.stop()
        if self._recorder is not None:
            self._recorder.flush()
        if status is not None and self._run_id is not None:
            self.mark_finished(self._run_id, status)

    def dispose(self) -> None:
        """Release everything: flush, close the loop and clients, dispose the database.

        Idempotent; the run's status is left as it is (`close` sets it). Waits for a
        background open first, so no connection pool outlives this. A late user of `db` (a
        session fixture's teardown) still gets the database: SQLAlchemy opens a fresh pool.
        """
        if self._disposed:
            return
        self.await_background()
        self.close(None)
        with self._parts:
            self._disposed = True
            if self._db is not None:
                self._db.dispose()
            if self._stderr_fd is not None:
                os.close(self._stderr_fd)
                self._stderr_fd = None
