"""Starting cases ahead of the items that wait for them: futures, batches, look-ahead strides."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.llm.limiter import call_priority
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.engine.loop import LoopThread

CaseKey = tuple[str, str]
Job = tuple[Suite, Case]
Started = list[tuple[Suite, Case, concurrent.futures.Future[CaseResult]]]


class JudgingRuntime(Protocol):
    """The runtime as the scheduler sees it: what it needs to start and judge cases."""

    @property
    def loop(self) -> LoopThread:
        """The event loop cases are judged on."""

    def warm_up(self) -> None:
        """Get ready for model calls (called before each batch)."""

    def register(self, suite: Suite, case: Case) -> None:
        """Register the suite and the case (raises for a clashing suite of the same name)."""

    def prefetch(self, jobs: Sequence[Job]) -> None:
        """Load what the registered cases will need, in few queries, before they start."""

    async def evaluate(self, suite: Suite, case: Case) -> CaseResult:
        """Judge one registered case (on the loop)."""


class CaseScheduler:
    """Starts each case once, in batches on the loop; items wait for their own case's future.

    Look-ahead can come in strides: an item passes the cases that come after it, and they are
    started only when fewer than `stride` of them are already started, so that the cache
    lookups of a refill batch up into two queries instead of one per case.
    """

    def __init__(self, judging: JudgingRuntime) -> None:
        self._judging = judging
        self._futures: dict[CaseKey, concurrent.futures.Future[CaseResult]] = {}
        self._sequence = itertools.count()
        self._lock = threading.RLock()

    def schedule(self, jobs: Sequence[Job]) -> None:
        """Start evaluating cases in the background; a case already started is not started again."""
        self._judging.warm_up()
        with self._lock:
            fresh: list[Job] = []
            seen: set[CaseKey] = set()
            for suite, case in jobs:
                self._judging.register(suite, case)  # first: refuses a different suite of one name
                key = (suite.name, case.id)
                if key in self._futures or key in seen:
                    continue
                seen.add(key)
                fresh.append((suite, case))
            # Cached answers for the whole batch in two queries, before the cases start.
            self._judging.prefetch(fresh)
            batch: Started = []
            for suite, case in fresh:
                future: concurrent.futures.Future[CaseResult] = concurrent.futures.Future()
                self._futures[(suite.name, case.id)] = future
                batch.append((suite, case, future))
            if batch:
                # One hand-off to the loop per batch, not one per case.
                self._judging.loop.submit(self._evaluate_batch(batch))

    async def _evaluate_batch(self, batch: Started) -> None:
        """Evaluate cases concurrently, each resolving its own future as soon as it is done."""

        async def one(
            suite: Suite, case: Case, future: concurrent.futures.Future[CaseResult]
        ) -> None:
            call_priority.set(next(self._sequence))  # earlier cases' calls go first
            try:
                future.set_result(await self._judging.evaluate(suite, case))
            except BaseException as exc:  # the waiting item reports it
                future.set_exception(exc)

        await asyncio.gather(*(one(*job) for job in batch))

    def result(self, suite: Suite, case: Case) -> CaseResult:
        """The result of a case, evaluating it now if nobody scheduled it."""
        self.schedule([(suite, case)])
        return self._future(suite, case).result()

    def result_with_lookahead(
        self, suite: Suite, case: Case, upcoming: Sequence[Job], *, stride: int | None = None
    ) -> CaseResult:
        """Like `result`, but first starts `upcoming`, the cases that will be asked for next.

        With a `stride` (half the window, say) they are started only when one of the first
        `stride` of them (at least the first) is not started yet; without, every call tops
        them up (for a queue whose front moves on its own, such as an xdist worker's).
        """
        if stride is not None and self._started(upcoming[: max(1, stride)]):
            self.schedule([(suite, case)])
        else:
            self.schedule([(suite, case), *upcoming])
        return self._future(suite, case).result()

    def _started(self, jobs: Sequence[Job]) -> bool:
        """True when every one of these cases is started."""
        with self._lock:
            return all((s.name, c.id) in self._futures for s, c in jobs)

    def _future(self, suite: Suite, case: Case) -> concurrent.futures.Future[CaseResult]:
        """The future of a started case."""
        with self._lock:
            return self._futures[(suite.name, case.id)]

    def release_results(self) -> None:
        """Forget finished results (after the session's summary is written)."""
        with self._lock:
            self._futures.clear()
