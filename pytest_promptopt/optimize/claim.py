"""Under xdist, one worker runs a suite's pipeline; the others wait for its best prompt.

The owner holds a lease: a heartbeat in its `pipeline_owner` row, renewed every few seconds by
a background thread. A waiter that finds the heartbeat stale (the owner crashed) takes the claim
over with a compare-and-set on the row's status and runs the pipeline itself; completed stages
are skipped, so nothing is done twice.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.storage.stage_summaries import ClaimSummary

CLAIM_STAGE = "pipeline_owner"
POLL_S = 0.2
HEARTBEAT_S = 2.0
STALE_S = 20.0

WaitResult = tuple[Literal["best", "failed", "takeover"], tuple[int, str] | None]


def _owner_row(runtime: Runtime, suite: str) -> tuple[int, str, ClaimSummary] | None:
    from pytest_promptopt.storage.repositories import StageResultRepository
    from pytest_promptopt.storage.stage_summaries import ClaimSummary

    with runtime.db.session_scope() as session:
        row = StageResultRepository(session).get(runtime.run_id, suite, CLAIM_STAGE)
        return None if row is None else (row.id, row.status, ClaimSummary.parse(row.summary))


def _heartbeat(worker: str) -> dict[str, object]:
    """The claim row's summary while `worker` runs the pipeline."""
    from pytest_promptopt.storage.stage_summaries import ClaimSummary

    return ClaimSummary(worker=worker, heartbeat=time.time()).to_json()


def claim_pipeline(runtime: Runtime, suite: str, worker: str) -> bool:
    """True when this worker won the suite's pipeline (first insert wins, in the database)."""
    from pytest_promptopt.storage.database import insert_ignore
    from pytest_promptopt.storage.models import StageResult

    row = {
        "run_id": runtime.run_id,
        "suite": suite,
        "stage": CLAIM_STAGE,
        "status": "running",
        "summary": _heartbeat(worker),
    }
    with runtime.db.session_scope() as session:
        insert_ignore(session, StageResult, [row], ["run_id", "suite", "stage"])
    owner = _owner_row(runtime, suite)
    return owner is not None and owner[2].worker == worker


class Lease:
    """Renews the owner's heartbeat in a daemon thread until released."""

    def __init__(self, runtime: Runtime, suite: str, worker: str) -> None:
        self._runtime, self._suite, self._worker = runtime, suite, worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="promptopt-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        from pytest_promptopt.storage.models import StageResult

        while not self._stop.wait(HEARTBEAT_S):
            owner = _owner_row(self._runtime, self._suite)
            if owner is None or owner[2].worker != self._worker:
                return
            with self._runtime.db.session_scope() as session:
                row = session.get(StageResult, owner[0])
                if row is not None and row.status == "running":
                    row.summary = _heartbeat(self._worker)

    def release(self, best_prompt_id: int | None) -> None:
        """Stop renewing and tell the waiting workers the outcome (None: the pipeline failed)."""
        self._stop.set()
        self._thread.join(timeout=10)
        release_pipeline(self._runtime, self._suite, self._worker, best_prompt_id)


def release_pipeline(runtime: Runtime, suite: str, worker: str, best_prompt_id: int | None) -> None:
    """Record the end of the pipeline and its best prompt (None: failed) for the waiters."""
    from pytest_promptopt.storage.repositories import StageResultRepository
    from pytest_promptopt.storage.stage_summaries import ClaimSummary

    with runtime.db.session_scope() as session:
        repo = StageResultRepository(session)
        owner = repo.get(runtime.run_id, suite, CLAIM_STAGE)
        if owner is not None:
            status = "completed" if best_prompt_id is not None else "failed"
            summary = ClaimSummary(worker=worker, best_prompt_id=best_prompt_id)
            repo.complete(owner.id, summary.to_json(), status=status)


def _take_over(runtime: Runtime, row_id: int, worker: str) -> bool:
    """Compare-and-set the claim from a dead owner to this worker; True when this one won."""
    from sqlalchemy import update

    from pytest_promptopt.storage.models import StageResult

    with runtime.db.session_scope() as session:
        taken = session.execute(
            update(StageResult)
            .where(StageResult.id == row_id, StageResult.status == "running")
            .values(status="taken_over")
        ).rowcount  # type: ignore[attr-defined]
        if taken != 1:
            return False
        row = session.get(StageResult, row_id)
        assert row is not None
        row.status = "running"
        row.summary = _heartbeat(worker)
        return True


def wait_for_pipeline(runtime: Runtime, suite: str, worker: str) -> WaitResult:
    """Block until the owner finishes: its best prompt, a failure, or a takeover by this worker."""
    from pytest_promptopt.storage.repositories import PromptRepository

    while True:
        owner = _owner_row(runtime, suite)
        if owner is not None:
            row_id, status, summary = owner
            if status in ("completed", "failed"):
                best_id = summary.best_prompt_id
                if best_id is None:
                    return "failed", None
                with runtime.db.session_scope() as session:
                    prompt = PromptRepository(session).get(best_id)
                    if prompt is None:
                        return "failed", None
                    return "best", (prompt.id, prompt.prompt_text)
            beat = summary.heartbeat
            stale = beat is None or time.time() - beat > STALE_S
            if status == "running" and stale and _take_over(runtime, row_id, worker):
                return "takeover", None
        time.sleep(POLL_S)
