"""The xdist pipeline claim: one owner, waiters get its best prompt, a dead owner is taken over."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.optimize import claim
from pytest_promptopt.settings import Settings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(
        Settings(rootdir=tmp_path, db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", model="simulated")
    )
    yield rt
    rt.close(None)


class Polls:
    """Stands in for the waiters' pause between polls: counts it, tells the test, and holds the
    waiter there until the test has changed the claim (instead of sleeping POLL_S)."""

    def __init__(self) -> None:
        self.count = 0
        self.looked = threading.Event()  # a waiter looked at the claim and decided to wait
        self.go_on = threading.Event()  # the test changed the claim: look again

    def pause(self, seconds: float) -> None:
        """One poll's pause: recorded, then held until `go_on` (at most 10 s)."""
        self.count += 1
        self.looked.set()
        assert self.go_on.wait(timeout=10), "the test never let the waiter look again"


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> Polls:
    """The claim module's pauses between polls, recorded and held by the test."""
    recorded = Polls()
    monkeypatch.setattr(claim, "time", SimpleNamespace(time=time.time, sleep=recorded.pause))
    return recorded


def _waiter(runtime: Runtime, worker: str, results: dict[str, object]) -> threading.Thread:
    """A thread waiting for the suite's pipeline as `worker`, its outcome into `results`."""

    def wait() -> None:
        results[worker] = claim.wait_for_pipeline(runtime, "bot", worker)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread


def test_first_claim_wins_and_waiters_get_the_best_prompt(runtime: Runtime, polls: Polls) -> None:
    from pytest_promptopt.storage.repositories import PromptRepository

    assert claim.claim_pipeline(runtime, "bot", "gw0")
    assert not claim.claim_pipeline(runtime, "bot", "gw1")
    with runtime.db.session_scope() as s:
        best = PromptRepository(s).add(runtime.run_id, "bot", "best prompt", stage="refined")
        best_id = best.id
    lease = claim.Lease(runtime, "bot", "gw0")
    results: dict[str, object] = {}
    thread = _waiter(runtime, "gw1", results)
    assert polls.looked.wait(timeout=10)  # gw1 found the pipeline running and waits
    assert results == {} and polls.count == 1
    lease.release(best_id)
    polls.go_on.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert results == {"gw1": ("best", (best_id, "best prompt"))}
    assert polls.count == 1  # its next look found the best prompt: no second pause


def test_a_failed_owner_leaves_the_waiters_on_the_original(runtime: Runtime, polls: Polls) -> None:
    assert claim.claim_pipeline(runtime, "bot", "gw0")
    claim.release_pipeline(runtime, "bot", "gw0", None)
    assert claim.wait_for_pipeline(runtime, "bot", "gw1") == ("failed", None)
    assert polls.count == 0  # the outcome was there at the first look


def test_a_dead_owner_is_taken_over_by_exactly_one_waiter(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, polls: Polls
) -> None:
    monkeypatch.setattr(claim, "STALE_S", -1.0)  # any heartbeat is stale: gw0 is dead
    assert claim.claim_pipeline(runtime, "bot", "gw0")  # gw0 dies: no lease renews it
    results: dict[str, object] = {}
    first = _waiter(runtime, "gw1", results)
    first.join(timeout=10)
    assert not first.is_alive()
    assert results == {"gw1": ("takeover", None)} and polls.count == 0  # at its first look
    # The new owner renews its lease, so the next waiter waits instead of taking over too.
    lease = claim.Lease(runtime, "bot", "gw1")
    monkeypatch.setattr(claim, "STALE_S", 5.0)
    second = _waiter(runtime, "gw2", results)
    assert polls.looked.wait(timeout=10)  # gw2 looked at gw1's fresh claim and waits
    assert "gw2" not in results and polls.count == 1
    lease.release(None)
    polls.go_on.set()
    second.join(timeout=10)
    assert not second.is_alive()
    assert results["gw2"] == ("failed", None)
