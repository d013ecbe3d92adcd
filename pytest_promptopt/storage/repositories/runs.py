"""Rows of `optimization_runs`: create, look up, finish, reopen and find the run to resume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import OptimizationRun, Prompt, StageResult, TestCase, utcnow
from pytest_promptopt.storage.repositories.base import Repository

FINISHED_RUN_STATUSES: tuple[str, ...] = ("passed", "failed")
RESUMABLE_STATUSES: tuple[str, ...] = ("running", "interrupted")
RUN_USAGE: tuple[str, ...] = (
    "calls",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_calls",
)
"""The run's own usage columns, added to by `add_usage`."""


class RunRepository(Repository):
    """Rows of `optimization_runs`."""

    def create(self, session_uid: str, mode: str, settings: dict[str, Any]) -> OptimizationRun:
        """Get or create the run of a pytest session (safe when xdist workers race)."""
        row = {"session_uid": session_uid, "mode": mode, "settings": settings}
        insert_ignore(self.session, OptimizationRun, [row], ["session_uid"])
        run = self.by_uid(session_uid)
        assert run is not None
        return run

    def get(self, run_id: int) -> OptimizationRun | None:
        """Return the run with this id."""
        return self.session.get(OptimizationRun, run_id)

    def by_uid(self, session_uid: str) -> OptimizationRun | None:
        """Return the run of a pytest session."""
        stmt = select(OptimizationRun).where(OptimizationRun.session_uid == session_uid)
        return self.session.scalars(stmt).one_or_none()

    def latest(
        self, mode: str | None = None, statuses: Sequence[str] | None = None
    ) -> OptimizationRun | None:
        """Return the most recently started run, optionally of one mode and some statuses."""
        stmt = select(OptimizationRun)
        if mode is not None:
            stmt = stmt.where(OptimizationRun.mode == mode)
        if statuses is not None:
            stmt = stmt.where(OptimizationRun.status.in_(list(statuses)))
        stmt = stmt.order_by(OptimizationRun.started_at.desc(), OptimizationRun.id.desc())
        return self.session.scalars(stmt.limit(1)).first()

    def latest_resumable(self, exclude_uid: str) -> int | None:
        """The newest optimize run worth resuming, other than the session `exclude_uid`'s own.

        Worth resuming: not finished (`running`, `interrupted`), or finished with a stage that
        did not complete (a cap stopped it: status `failed`).
        """
        unfinished = select(StageResult.run_id).where(StageResult.status != "completed")
        stmt = (
            select(OptimizationRun.id)
            .where(
                OptimizationRun.mode == "optimize",
                OptimizationRun.session_uid != exclude_uid,
                or_(
                    OptimizationRun.status.in_(RESUMABLE_STATUSES),
                    OptimizationRun.id.in_(unfinished),
                ),
            )
            .order_by(OptimizationRun.started_at.desc(), OptimizationRun.id.desc())
            .limit(1)
        )
        found = self.session.scalars(stmt).first()
        return None if found is None else int(found)

    def finish(
        self, run_id: int, status: str, summary: dict[str, Any] | None = None
    ) -> OptimizationRun:
        """Mark a run finished now with `status` (and `summary` when given)."""
        run = self.session.get_one(OptimizationRun, run_id)
        run.status = status
        run.finished_at = utcnow()
        if summary is not None:
            run.summary = summary
        self.session.flush()
        return run

    def add_usage(self, run_id: int, usage: dict[str, Any]) -> None:
        """Add to a run's own usage: calls, cache_hits, input_tokens, output_tokens, cost_usd
        (the priced calls' dollars) and unpriced_calls, in one UPDATE (processes add at once)."""
        columns = {name: getattr(OptimizationRun, name) for name in RUN_USAGE}
        self.session.execute(
            update(OptimizationRun)
            .where(OptimizationRun.id == run_id)
            .values({c: func.coalesce(c, 0) + usage.get(name, 0) for name, c in columns.items()})
        )

    def usage(self, run: OptimizationRun) -> dict[str, Any] | None:
        """A run's own usage (calls, cache_hits, tokens, cost_usd None when any call had no
        price), or None for a run recorded before runs kept it."""
        if run.calls is None:
            return None
        return {
            "calls": int(run.calls),
            "cache_hits": int(run.cache_hits or 0),
            "input_tokens": int(run.input_tokens or 0),
            "output_tokens": int(run.output_tokens or 0),
            "cost_usd": None if run.unpriced_calls else float(run.cost_usd or 0.0),
        }

    def reopen(self, run_id: int, session_uid: str) -> OptimizationRun:
        """Hand an earlier run to the pytest session `session_uid`: running again, unfinished."""
        run = self.session.get_one(OptimizationRun, run_id)
        run.session_uid = session_uid
        run.status = "running"
        run.finished_at = None
        self.session.flush()
        return run

    def list_recent(self, limit: int = 20) -> list[OptimizationRun]:
        """Return the newest runs first."""
        stmt = select(OptimizationRun).order_by(
            OptimizationRun.started_at.desc(), OptimizationRun.id.desc()
        )
        return list(self.session.scalars(stmt.limit(limit)))

    def suites(self, run_id: int) -> list[str]:
        """Return the suites a run touched (prompts or test cases), sorted."""
        names = set(self.session.scalars(select(Prompt.suite).where(Prompt.run_id == run_id)))
        names |= set(self.session.scalars(select(TestCase.suite).where(TestCase.run_id == run_id)))
        return sorted(names)
