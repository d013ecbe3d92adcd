"""The case scheduler: each case starts once, look-ahead refills in strides, errors reach items."""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import pytest

from pytest_promptopt.engine.loop import LoopThread
from pytest_promptopt.engine.scheduler import CaseScheduler, Job
from pytest_promptopt.errors import LLMError, SuiteError
from pytest_promptopt.evaluation.results import CaseResult
from pytest_promptopt.llm.limiter import call_priority
from pytest_promptopt.suites.spec import Case, Suite

T = TypeVar("T")


class CountingLoop(LoopThread):
    """A loop thread that counts the coroutines handed to it."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted = 0

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Count, then schedule as usual."""
        self.submitted += 1
        return super().submit(coro)


class FakeRuntime:
    """Judges cases instantly (or with an error), recording what the scheduler asked for."""

    def __init__(self, loop: CountingLoop) -> None:
        self._loop = loop
        self.registered: list[str] = []
        self.prefetched: list[list[str]] = []
        self.evaluated: list[str] = []
        self.priorities: dict[str, int] = {}
        self.failing: set[str] = set()
        self.clashing: set[str] = set()
        self.gate: threading.Event | None = None  # when set: evaluations wait for it
        self.at_gate: queue.Queue[str] = queue.Queue()  # the cases waiting at the gate

    @property
    def loop(self) -> CountingLoop:
        """The counting loop."""
        return self._loop

    def warm_up(self) -> None:
        """Nothing to warm up."""

    def register(self, suite: Suite, case: Case) -> None:
        """Record the case; refuse suites marked as clashing."""
        if suite.name in self.clashing:
            raise SuiteError(f"suite name {suite.name!r} is used by two different suites")
        self.registered.append(case.id)

    def prefetch(self, jobs: Sequence[Job]) -> None:
        """Record one prefetch batch."""
        self.prefetched.append([c.id for _, c in jobs])

    async def evaluate(self, suite: Suite, case: Case) -> CaseResult:
        """A result for the case, or LLMError for a failing one."""
        self.evaluated.append(case.id)
        self.priorities[case.id] = call_priority.get()
        if self.gate is not None:
            self.at_gate.put(case.id)
            assert await asyncio.to_thread(self.gate.wait, 10), "the test never opened the gate"
        if case.id in self.failing:
            raise LLMError(f"target call for {case.id} failed after retries: HTTP 500")
        return CaseResult(suite=suite.name, case_id=case.id, threshold=0.5)


def make_suite(n: int = 10, name: str = "bot") -> Suite:
    """A suite of n cases c0..c(n-1)."""
    return Suite(
        name=name,
        prompt="Be brief.",
        cases=[Case(id=f"c{i}", input=f"question {i}") for i in range(n)],
    )


@pytest.fixture
def judging() -> Iterator[FakeRuntime]:
    """A fake runtime on a real loop thread."""
    loop = CountingLoop()
    try:
        yield FakeRuntime(loop)
    finally:
        loop.stop()


def test_a_case_is_started_once_however_often_it_is_scheduled(judging: FakeRuntime) -> None:
    suite = make_suite(4)
    scheduler = CaseScheduler(judging)
    jobs = [(suite, c) for c in suite.cases]
    scheduler.schedule([*jobs, *jobs])  # duplicates within one batch
    scheduler.schedule(jobs[1:3])  # and again later
    results = [scheduler.result(suite, c) for c in suite.cases]
    again = scheduler.result_with_lookahead(suite, suite.cases[0], jobs)
    assert sorted(judging.evaluated) == ["c0", "c1", "c2", "c3"]
    assert [r.case_id for r in results] == ["c0", "c1", "c2", "c3"]
    assert again is results[0]
    # One prefetch and one hand-off to the loop for the batch that started something.
    assert [b for b in judging.prefetched if b] == [["c0", "c1", "c2", "c3"]]
    assert judging.loop.submitted == 1


def test_calls_are_prioritised_by_case_order(judging: FakeRuntime) -> None:
    suite = make_suite(5)
    scheduler = CaseScheduler(judging)
    scheduler.schedule([(suite, c) for c in suite.cases[:3]])
    scheduler.schedule([(suite, c) for c in suite.cases[3:]])
    for c in suite.cases:
        scheduler.result(suite, c)
    order = sorted(judging.priorities, key=judging.priorities.__getitem__)
    assert order == ["c0", "c1", "c2", "c3", "c4"]


def test_lookahead_refills_in_strides(judging: FakeRuntime) -> None:
    suite = make_suite(10)
    scheduler = CaseScheduler(judging)
    window = 4
    refilled_at = []
    for n, case in enumerate(suite.cases):
        upcoming = [(suite, c) for c in suite.cases[n + 1 : n + 1 + window]]
        submitted = judging.loop.submitted
        scheduler.result_with_lookahead(suite, case, upcoming, stride=window // 2)
        if judging.loop.submitted > submitted:
            refilled_at.append(n)
    # c0 with 4 ahead, then a refill whenever one of the next 2 was not started yet.
    batches = [b for b in judging.prefetched if b]
    assert batches == [["c0", "c1", "c2", "c3", "c4"], ["c5", "c6", "c7"], ["c8", "c9"]]
    assert refilled_at == [0, 3, 6]
    assert judging.loop.submitted == 3
    assert sorted(judging.evaluated) == sorted(c.id for c in suite.cases)


def test_lookahead_without_strides_tops_up_on_every_item(judging: FakeRuntime) -> None:
    suite = make_suite(6)
    scheduler = CaseScheduler(judging)
    for n, case in enumerate(suite.cases):
        upcoming = [(suite, c) for c in suite.cases[n + 1 : n + 3]]
        scheduler.result_with_lookahead(suite, case, upcoming)
    batches = [b for b in judging.prefetched if b]
    assert batches == [["c0", "c1", "c2"], ["c3"], ["c4"], ["c5"]]


def test_a_window_of_one_keeps_one_case_ahead(judging: FakeRuntime) -> None:
    suite = make_suite(4)
    scheduler = CaseScheduler(judging)
    for n, case in enumerate(suite.cases):
        upcoming = [(suite, c) for c in suite.cases[n + 1 : n + 2]]
        scheduler.result_with_lookahead(suite, case, upcoming, stride=0)
    assert [b for b in judging.prefetched if b] == [["c0", "c1"], ["c2"], ["c3"]]


def test_an_error_reaches_the_item_waiting_for_that_case(judging: FakeRuntime) -> None:
    suite = make_suite(3)
    judging.failing = {"c1"}
    scheduler = CaseScheduler(judging)
    scheduler.schedule([(suite, c) for c in suite.cases])
    assert scheduler.result(suite, suite.cases[0]).case_id == "c0"
    with pytest.raises(LLMError, match="target call for c1 failed"):
        scheduler.result_with_lookahead(suite, suite.cases[1], [(suite, suite.cases[2])])
    assert scheduler.result(suite, suite.cases[2]).case_id == "c2"


def test_a_refused_suite_raises_in_the_scheduling_item(judging: FakeRuntime) -> None:
    suite = make_suite(2, name="clash")
    judging.clashing = {"clash"}
    scheduler = CaseScheduler(judging)
    with pytest.raises(SuiteError, match="two different suites"):
        scheduler.result(suite, suite.cases[0])
    assert judging.evaluated == [] and judging.loop.submitted == 0


def test_items_wait_for_their_own_case_while_others_run(judging: FakeRuntime) -> None:
    suite = make_suite(2)
    judging.gate = threading.Event()
    scheduler = CaseScheduler(judging)
    scheduler.schedule([(suite, c) for c in suite.cases])
    waiter = concurrent.futures.ThreadPoolExecutor(1).submit(
        scheduler.result, suite, suite.cases[1]
    )
    # Both cases run (each once) and wait at the gate; the item waiting for c1 waits with them.
    assert sorted(judging.at_gate.get(timeout=5) for _ in range(2)) == ["c0", "c1"]
    assert not waiter.done()
    judging.gate.set()
    assert waiter.result(timeout=5).case_id == "c1"
    assert sorted(judging.evaluated) == ["c0", "c1"]  # c1 was not started a second time


def test_released_results_are_started_again_when_asked_for(judging: FakeRuntime) -> None:
    suite = make_suite(1)
    scheduler = CaseScheduler(judging)
    first = scheduler.result(suite, suite.cases[0])
    scheduler.release_results()
    second = scheduler.result(suite, suite.cases[0])
    assert first is not second and judging.evaluated == ["c0", "c0"]
