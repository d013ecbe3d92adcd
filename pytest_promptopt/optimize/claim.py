"""Under xdist, one worker runs a suite's pipeline; the others wait for its best prompt.

The owner holds a lease: a heartbeat in its `pipeline_owner` row, renewed every few seconds by
a background thread. A waiter that finds the heartbeat stale (the owner crashed) takes the claim
over with a compare-and-set on the row's version and runs the pipeline itself; completed stages
are skipped, so nothing is done twice.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Literal

from pytest_promptopt.storage.repositories import Claim, transaction

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime

POLL_S = 0.2
HEARTBEAT_S = 2.0
STALE_S = 20.0

WaitResult = tuple[Literal["best", "failed", "takeover"], tuple[int, str] | None]


def _owner(runtime: Runtime, suite: str) -> Claim | None:
    """The suite's claim in this session's run, if any worker made one."""
    with transaction(runtime.db) as repos:
        return repos.pipeline_claims.owner(runtime.run_id, suite)


def claim_pipeline(runtime: Runtime, suite: str, worker: str) -> bool:
    """True when this worker won the suite's pipeline (first insert wins, in the database)."""
    with transaction(runtime.db) as repos:
        return repos.pipeline_claims.claim(runtime.run_id, suite, worker, time.time())


class Lease:
    """Renews the owner's heartbeat in a daemon thread until released."""

    def __init__(self, runtime: Runtime, suite: str, worker: str) -> None:
        """Start renewing `worker`'s claim on `suite`."""
        self._runtime, self._suite, self._worker = runtime, suite, worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="promptopt-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        """Renew the heartbeat every HEARTBEAT_S until stopped or the claim passed to another."""
        while not self._stop.wait(HEARTBEAT_S):
            owner = _owner(self._runtime, self._suite)
            if owner is None or owner.worker != self._worker:
                return
            with transaction(self._runtime.db) as repos:
                repos.pipeline_claims.beat(owner.id, self._worker, time.time())

    def release(self, best_prompt_id: int | None) -> None:
        """Stop renewing and tell the waiting workers the outcome (None: the pipeline failed)."""
        self._stop.set()
        self._thread.join(timeout=10)
        release_pipeline(self._runtime, self._suite, self._worker, best_prompt_id)


def release_pipeline(runtime: Runtime, suite: str, worker: str, best_prompt_id: int | None) -> None:
    """Record the end of the pipeline and its best prompt (None: failed) for the waiters."""
    with transaction(runtime.db) as repos:
        repos.pipeline_claims.release(runtime.run_id, suite, worker, best_prompt_id)


def _take_over(runtime: Runtime, claim: Claim, worker: str) -> bool:
    """Compare-and-set the claim, as read, from a dead owner to this worker; True when won."""
    with transaction(runtime.db) as repos:
        return repos.pipeline_claims.take_over(claim, worker, time.time())


def wait_for_pipeline(runtime: Runtime, suite: str, worker: str) -> WaitResult:
    """Block until the owner finishes: its best prompt, a failure, or a takeover by this worker."""
    while True:
        owner = _owner(runtime, suite)
        if owner is not None:
            if owner.status in ("completed", "failed"):
                best_id = owner.summary.best_prompt_id
                if not isinstance(best_id, int):
                    return "failed", None
                with transaction(runtime.db) as repos:
                    prompt = repos.prompts.get(best_id)
                    if prompt is None:
                        return "failed", None
                    return "best", (prompt.id, prompt.prompt_text)
            beat = owner.summary.heartbeat
            stale = not isinstance(beat, (int, float)) or time.time() - beat > STALE_S
            if owner.status == "running" and stale and _take_over(runtime, owner, worker):
                return "takeover", None
        time.sleep(POLL_S)
