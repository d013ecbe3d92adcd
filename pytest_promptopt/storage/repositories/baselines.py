"""Rows of `baselines`: bless a run's suites, and find each suite's current baseline."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from pytest_promptopt.storage.models import Baseline
from pytest_promptopt.storage.repositories.base import Repository


class BaselineRepository(Repository):
    """Rows of `baselines` (a suite's newest row is its baseline; older rows are history)."""

    def bless(self, run_id: int, suites: Iterable[str]) -> list[Baseline]:
        """Make `run_id` the baseline of each suite; return the new rows."""
        rows = [Baseline(suite=suite, run_id=run_id) for suite in suites]
        self.session.add_all(rows)
        self.session.flush()
        return rows

    def current(self) -> list[Baseline]:
        """Each suite's newest baseline, by suite name."""
        newest = select(func.max(Baseline.id)).group_by(Baseline.suite)
        stmt = select(Baseline).where(Baseline.id.in_(newest)).order_by(Baseline.suite)
        return list(self.session.scalars(stmt))

    def for_suite(self, suite: str) -> Baseline | None:
        """The suite's newest baseline, if it has one."""
        stmt = select(Baseline).where(Baseline.suite == suite).order_by(Baseline.id.desc())
        return self.session.scalars(stmt.limit(1)).first()
