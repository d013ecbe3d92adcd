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


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set each time a waiter has looked at the claim and decided to wait (its poll's pause)."""
    event = threading.Event()

    def pause(seconds: float) -> None:
        event.set()
        time.sleep(seconds)

    monkeypatch.setattr(claim, "time", SimpleNamespace(time=time.time, sleep=pause))
    return event


def _waiter(runtime: Runtime, worker: str, results: dict[str, object]) -> threading.Thread:
    """A thread waiting for the suite's pipeline as `worker`, its outcome into `results`."""

    def wait() -> None:
        results[worker] = claim.wait_for_pipeline(runtime, "bot", worker)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread


def test_first_claim_wins_and_waiters_get_the_best_prompt(
    runtime: Runtime, waited: threading.Event
) -> None:
    from pytest_promptopt.storage.repositories import PromptRepository

    assert claim.claim_pipeline(runtime, "bot", "gw0")
    assert not claim.claim_pipeline(runtime, "bot", "gw1")
    with runtime.db.session_scope() as s:
        best = PromptRepository(s).add(runtime.run_id, "bot", "best prompt", stage="refined")
        best_id = best.id
    lease = claim.Lease(runtime, "bot", "gw0")
    results: dict[str, object] = {}
    thread = _waiter(runtime, "gw1", results)
    assert waited.wait(timeout=10)  # gw1 found the pipeline running and waits
    assert results == {}
    lease.release(best_id)
    thread.join(timeout=10)
    assert results == {"gw1": ("best", (best_id, "best prompt"))}


def test_a_failed_owner_leaves_the_waiters_on_the_original(runtime: Runtime) -> None:
    assert claim.claim_pipeline(runtime, "bot", "gw0")
    claim.release_pipeline(runtime, "bot", "gw0", None)
    assert claim.wait_for_pipeline(runtime, "bot", "gw1") == ("failed", None)


def test_a_dead_owner_is_taken_over_by_exactly_one_waiter(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, waited: threading.Event
) -> None:
    monkeypatch.setattr(claim, "STALE_S", -1.0)  # any heartbeat is stale: gw0 is dead
    assert claim.claim_pipeline(runtime, "bot", "gw0")  # gw0 dies: no lease renews it
    results: dict[str, object] = {}
    _waiter(runtime, "gw1", results).join(timeout=10)
    assert results == {"gw1": ("takeover", None)}
    # The new owner renews its lease, so the next waiter waits instead of taking over too.
    lease = claim.Lease(runtime, "bot", "gw1")
    monkeypatch.setattr(claim, "STALE_S", 5.0)
    waited.clear()
    second = _waiter(runtime, "gw2", results)
    assert waited.wait(timeout=10)  # gw2 looked at gw1's fresh claim and waits
    assert "gw2" not in results
    lease.release(None)
    second.join(timeout=10)
    assert results["gw2"] == ("failed", None)
