"""Rows of `stage_results`: the pipeline stages of a suite in a run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import StageResult, utcnow
from pytest_promptopt.storage.repositories.base import Repository


class StageResultRepository(Repository):
    """Rows of `stage_results`."""

    def start(self, run_id: int, suite: str, stage: str) -> tuple[StageResult, bool]:
        """Get or create a stage row; return it and whether it had already completed."""
        row = {"run_id": run_id, "suite": suite, "stage": stage, "status": "running"}
        insert_ignore(self.session, StageResult, [row], ["run_id", "suite", "stage"])
        result = self.get(run_id, suite, stage)
        assert result is not None
        if result.status == "completed":
            return result, True
        if result.status != "running":
            # Re-running a failed, skipped or budget-stopped stage.
            result.status = "running"
            result.started_at = utcnow()
            result.finished_at = None
            self.session.flush()
        return result, False

    def complete(
        self, result_id: int, summary: dict[str, Any], status: str = "completed"
    ) -> StageResult:
        """Finish a stage now with `status` and `summary`."""
        result = self.session.get_one(StageResult, result_id)
        result.status = status
        result.summary = summary
        result.finished_at = utcnow()
        self.session.flush()
        return result

    def get(self, run_id: int, suite: str, stage: str) -> StageResult | None:
        """Return the row of one stage of a suite in a run."""
        stmt = select(StageResult).where(
            StageResult.run_id == run_id, StageResult.suite == suite, StageResult.stage == stage
        )
        return self.session.scalars(stmt).one_or_none()

    def for_run(self, run_id: int, suite: str | None = None) -> list[StageResult]:
        """Return a run's stage rows in the order they started."""
        stmt = select(StageResult).where(StageResult.run_id == run_id)
        if suite is not None:
            stmt = stmt.where(StageResult.suite == suite)
        return list(self.session.scalars(stmt.order_by(StageResult.id)))
