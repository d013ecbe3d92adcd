"""The xdist pipeline claim: one owner, waiters get its best prompt, a dead owner is taken over."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


def test_first_claim_wins_and_waiters_get_the_best_prompt(runtime: Runtime) -> None:
    from pytest_promptopt.storage.repositories import PromptRepository

    assert claim.claim_pipeline(runtime, "bot", "gw0")
    assert not claim.claim_pipeline(runtime, "bot", "gw1")
    with runtime.db.session_scope() as s:
        best = PromptRepository(s).add(runtime.run_id, "bot", "best prompt", stage="refined")
        best_id = best.id
    lease = claim.Lease(runtime, "bot", "gw0")
    threading.Timer(0.3, lease.release, args=(best_id,)).start()
    assert claim.wait_for_pipeline(runtime, "bot", "gw1") == ("best", (best_id, "best prompt"))


def test_a_failed_owner_leaves_the_waiters_on_the_original(runtime: Runtime) -> None:
    assert claim.claim_pipeline(runtime, "bot", "gw0")
    claim.release_pipeline(runtime, "bot", "gw0", None)
    assert claim.wait_for_pipeline(runtime, "bot", "gw1") == ("failed", None)


def test_a_dead_owner_is_taken_over_by_exactly_one_waiter(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claim, "STALE_S", 0.2)
    assert claim.claim_pipeline(runtime, "bot", "gw0")  # gw0 dies: no lease renews it
    time.sleep(0.3)
    results: dict[str, object] = {}

    def wait(worker: str) -> None:
        results[worker] = claim.wait_for_pipeline(runtime, "bot", worker)[0]

    first = threading.Thread(target=wait, args=("gw1",))
    first.start()
    first.join(timeout=10)
    assert results == {"gw1": "takeover"}
    # The new owner renews its lease, so the next waiter waits instead of taking over too.
    lease = claim.Lease(runtime, "bot", "gw1")
    monkeypatch.setattr(claim, "STALE_S", 5.0)
    second = threading.Thread(target=wait, args=("gw2",))
    second.start()
    time.sleep(0.5)
    assert "gw2" not in results
    lease.release(None)
    second.join(timeout=10)
    assert results["gw2"] == "failed"
