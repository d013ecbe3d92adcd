"""Bounded user code (issue 18, finding 11): python checks and targets run off the event loop
within --promptopt-check-timeout, and regex checks run on RE2, so nothing stalls a session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import CodeTimeoutError, OwnCode
from pytest_promptopt.evaluation.checks import check_all
from pytest_promptopt.llm.wired import CallScope
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.suites.spec import AssertionSpec, Case
from tests.support import stuckcode

CASE = Case(id="c-1", input="hi")
HERE = "tests.support.stuckcode"


@pytest.fixture(autouse=True)
def _free_threads() -> Iterator[None]:
    """Fresh events, and every thread a test left blocked let go at its end."""
    stuckcode.reset()
    yield
    stuckcode.FREE.set()


def _specs(*checks: dict[str, Any]) -> tuple[AssertionSpec, ...]:
    return tuple(AssertionSpec.model_validate(c) for c in checks)


def test_a_stuck_sync_check_times_out_naming_it_and_blocks_no_other_case() -> None:
    code = OwnCode(timeout_s=1.0)

    async def both() -> list[Any]:
        stuck = check_all(_specs({"python": f"{HERE}:blocker"}), Answer("a"), CASE, Usage(), code)
        other = check_all(_specs({"python": f"{HERE}:quick"}), Answer("b"), CASE, Usage(), code)
        return await asyncio.gather(stuck, other, return_exceptions=True)

    stuck, other = asyncio.run(both())
    assert isinstance(stuck, CodeTimeoutError)
    assert str(stuck).startswith(
        f"python check {HERE}:blocker did not return within 1 s (--promptopt-check-timeout"
    )
    assert "cannot stop" in str(stuck)
    assert [(r.passed, r.detail) for r in other] == [(True, "blocker was running")]


def test_a_stuck_async_check_times_out_naming_it() -> None:
    code = OwnCode(timeout_s=0.05)
    specs = _specs({"python": f"{HERE}:async_blocker"})
    with pytest.raises(CodeTimeoutError, match=f"python check {HERE}:async_blocker did not"):
        asyncio.run(check_all(specs, Answer("a"), CASE, Usage(), code))


def test_a_stuck_sync_target_times_out_naming_it() -> None:
    code = OwnCode(timeout_s=0.2)

    async def run() -> Any:
        return await code.call(stuckcode.stuck_target, "p", CASE, None, what="target m:stuck")

    with pytest.raises(CodeTimeoutError, match=r"^target m:stuck did not return within 0\.2 s"):
        asyncio.run(run())


def test_time_in_the_targets_model_calls_does_not_count() -> None:
    code = OwnCode(timeout_s=0.2)
    scope = CallScope(label="c")
    answered = threading.Event()

    async def target() -> str:
        scope.call_started()  # as the wired client does around each model call
        try:
            # A model call far longer than the target's own timeout: it waits for the loop to
            # have passed the deadline several times over (an event, set by a later callback).
            loop = asyncio.get_running_loop()
            done = asyncio.Event()
            loop.call_later(1.0, done.set)
            await done.wait()
        finally:
            scope.call_ended()
        answered.set()
        return "answer"

    async def run() -> Any:
        return await code.call(target, what="target m:slow_api", scope=scope)

    assert asyncio.run(run()) == "answer"
    assert answered.is_set() and scope.waited_s() >= 1.0


def _finishes(fn: Callable[[], Any], seconds: float = 60.0) -> Any:
    """fn's result, run on a thread that must be done well before `seconds` (an Event says)."""
    done = threading.Event()
    out: list[Any] = []

    def run() -> None:
        out.append(fn())
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), "did not finish: the pattern backtracked"
    return out[0]


def test_a_catastrophic_regex_does_not_stall() -> None:
    # `(a+)+b` against 29 `a`s took about 50 s on Python's re (40 take hours).
    specs = _specs({"regex": "(a+)+b"}, {"not": {"regex": "(a+)+b"}})
    answer = Answer("x" + "a" * 40)
    results = _finishes(lambda: asyncio.run(check_all(specs, answer, CASE, Usage())))
    assert [r.passed for r in results] == [False, True]


def test_a_regex_matching_still_reports_what_it_matched() -> None:
    specs = _specs({"not": {"regex": r"(?i)as an ai\b"}}, {"regex": r"30[- ]day"})
    results = asyncio.run(check_all(specs, Answer("As an AI, the 30-day rule"), CASE, Usage()))
    assert [(r.passed, r.detail) for r in results] == [(False, "matched 'As an AI'"), (True, "")]


@pytest.mark.parametrize("pattern", [r"(a)\1", r"foo(?=bar)", r"(?<!x)y"])
def test_a_pattern_re2_cannot_run_is_refused_with_the_fix(pattern: str) -> None:
    with pytest.raises(ValueError) as info:
        AssertionSpec.model_validate({"regex": pattern})
    message = str(info.value)
    assert f"regex {pattern!r} does not compile" in message
    assert "RE2, a linear-time engine" in message and "python` check" in message


def test_a_json_fence_of_whitespace_does_not_stall() -> None:
    # The old fence regex `\s*(.*?)\s*` backtracked quadratically on long whitespace.
    specs = _specs({"is_json": True})
    answer = Answer("```" + " " * 50_000 + "x")
    results = _finishes(lambda: asyncio.run(check_all(specs, answer, CASE, Usage())))
    assert not results[0].passed
    fenced = asyncio.run(check_all(specs, Answer('```json\n{"a": 1}\n```'), CASE, Usage()))
    assert fenced[0].passed
