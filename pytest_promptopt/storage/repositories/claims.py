"""Pipeline claims under xdist: the `pipeline_owner` row of `stage_results` a worker holds.

The first insert wins the claim; the owner's heartbeat lives in the row's summary; a takeover is
a compare-and-set on the row's `version` (bumped by every change of holder), so of two waiters
that both saw a stale claim only one takes it. How stale a heartbeat may get is the caller's rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from sqlalchemy import update

from pytest_promptopt.records.summary import SummaryModel
from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import StageResult
from pytest_promptopt.storage.repositories.base import Repository
from pytest_promptopt.storage.repositories.stage_results import StageResultRepository

CLAIM_STAGE = "pipeline_owner"


class ClaimSummary(SummaryModel):
    """The claim row's summary: who runs a suite's pipeline, and its outcome."""

    worker: str | None = None
    heartbeat: float | None = Field(None, description="The owner's last sign of life (epoch s).")
    best_prompt_id: int | None = Field(None, description="Set on release; None: it failed.")


@dataclass(frozen=True)
class Claim:
    """A suite's claim row as read: its id, status and summary (worker, heartbeat, best prompt)."""

    id: int
    status: str
    summary: ClaimSummary
    version: int = 0

    @property
    def worker(self) -> str | None:
        """The worker that holds (or last held) the claim."""
        return self.summary.worker


class PipelineClaimRepository(Repository):
    """The one `pipeline_owner` row per (run, suite)."""

    def claim(self, run_id: int, suite: str, worker: str, heartbeat: float) -> bool:
        """Insert the claim for `worker` unless one exists; True when `worker` holds it."""
        row = {
            "run_id": run_id,
            "suite": suite,
            "stage": CLAIM_STAGE,
            "status": "running",
            "summary": ClaimSummary(worker=worker, heartbeat=heartbeat).to_json(),
        }
        insert_ignore(self.session, StageResult, [row], ["run_id", "suite", "stage"])
        owner = self.owner(run_id, suite)
        return owner is not None and owner.worker == worker

    def owner(self, run_id: int, suite: str) -> Claim | None:
        """The suite's claim, or None when no worker claimed it."""
        row = StageResultRepository(self.session).get(run_id, suite, CLAIM_STAGE)
        if row is None:
            return None
        return Claim(row.id, row.status, ClaimSummary.parse(row.summary), row.version or 0)

    def beat(self, claim_id: int, worker: str, heartbeat: float) -> bool:
        """Renew `worker`'s heartbeat of a running claim; False when it no longer holds it."""
        row = self.session.get(StageResult, claim_id)
        if row is None or row.status != "running":
            return False
        if ClaimSummary.parse(row.summary).worker != worker:
            return False
        row.summary = ClaimSummary(worker=worker, heartbeat=heartbeat).to_json()
        self.session.flush()
        return True

    def take_over(self, claim: Claim, worker: str, heartbeat: float) -> bool:
        """Move a running claim, as read, to `worker` (compare-and-set); True when this call won.

        The update matches the version read: a waiter that read the claim before another
        took it over finds the version moved on and loses.
        """
        summary = ClaimSummary(worker=worker, heartbeat=heartbeat).to_json()
        taken = self.session.execute(
            update(StageResult)
            .where(
                StageResult.id == claim.id,
                StageResult.status == "running",
                StageResult.version == claim.version,
            )
            .values(summary=summary, version=StageResult.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(taken == 1)

    def release(self, run_id: int, suite: str, worker: str, best_prompt_id: int | None) -> None:
        """End the claim: `completed` with the best prompt, or `failed` when there is none."""
        stages = StageResultRepository(self.session)
        owner = stages.get(run_id, suite, CLAIM_STAGE)
        if owner is not None:
            status = "completed" if best_prompt_id is not None else "failed"
            summary = ClaimSummary(worker=worker, best_prompt_id=best_prompt_id)
            stages.complete(owner.id, summary.to_json(), status=status)
