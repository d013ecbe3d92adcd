"""The lazy service container of a pytest process: loop, budget, clients, model service, judge."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING

from pytest_promptopt.settings import SIMULATED_MODEL, Settings

if TYPE_CHECKING:
    from pytest_promptopt.engine.loop import LoopThread
    from pytest_promptopt.engine.recorder import Recorder
    from pytest_promptopt.engine.run_row import RunRow
    from pytest_promptopt.engine.session_db import SessionDatabase
    from pytest_promptopt.evaluation.evaluator import Evaluator
    from pytest_promptopt.llm.batches import BatchCollector
    from pytest_promptopt.llm.budget import Budget
    from pytest_promptopt.llm.clients import ClientPool
    from pytest_promptopt.llm.service import LLMService
    from pytest_promptopt.llm.wired import WiredClients
    from pytest_promptopt.storage.database import Database


def _copy_of_stderr() -> int | None:
    """A duplicate of file descriptor 2, or None when there is none."""
    try:
        return os.dup(2)
    except OSError:
        return None


class Services:
    """Everything heavy one pytest process judges with, each part built on first use.

    Each part is a private optional set by its accessor (an unused part costs no import);
    `close_services` flushes and stops what was built, `release_services` frees the rest.
    """

    def __init__(
        self,
        settings: Settings,
        database: SessionDatabase,
        run: RunRow,
        *,
        session_uid: str,
        share_limit: bool = False,
    ) -> None:
        """`share_limit`: keep the adaptive concurrency limit in the database (xdist workers)."""
        self.settings = settings
        self.database = database
        self.run = run
        self.session_uid = session_uid
        self.share_limit = share_limit
        self._parts = threading.RLock()  # building the parts below
        self._loop: LoopThread | None = None
        self._budget: Budget | None = None
        self._clients: ClientPool | None = None
        self._llm: LLMService | None = None
        self._evaluator: Evaluator | None = None
        self._recorder: Recorder | None = None
        self._wired: WiredClients | None = None
        self._warming = False
        # --promptopt-batch prints progress while items wait; a copy of stderr taken now, while
        # nothing is captured, still reaches the terminal when pytest captures an item's output.
        self._stderr_fd = _copy_of_stderr() if settings.batch else None

    @property
    def db(self) -> Database:
        """The database, migrated to the current schema (opened on first use)."""
        return self.database.get()

    @property
    def run_id(self) -> int:
        """The id of this session's `optimization_runs` row (created on first use)."""
        return self.run.id

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
        db = self.database.if_open()
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
                    user_model=s.effective_user_model,
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

    def close_services(self) -> None:
        """Stop the judge's workers, close the model service, stop the loop, flush the writes."""
        if self._evaluator is not None:
            self._evaluator.close()
        if self._loop is not None:
            if self._llm is not None:
                self._loop.run(self._llm.aclose())
            self._loop.stop()
        if self._recorder is not None:
            self._recorder.flush()

    def release_services(self) -> None:
        """Dispose the database and close the copy of stderr (after `close_services`)."""
        with self._parts:
            self.database.dispose()
            if self._stderr_fd is not None:
                os.close(self._stderr_fd)
                self._stderr_fd = None
