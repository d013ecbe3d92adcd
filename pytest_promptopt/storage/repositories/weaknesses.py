"""Rows of `weakness_analyses`: what the analysis found wrong with a prompt."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import Prompt, WeaknessAnalysis
from pytest_promptopt.storage.repositories.base import Repository


class WeaknessRepository(Repository):
    """Rows of `weakness_analyses`."""

    def add(
        self,
        run_id: int,
        prompt_id: int,
        track_id: int,
        iteration: int,
        weaknesses: list[Any],
        suggestions: str,
        case_keys: list[str],
    ) -> WeaknessAnalysis:
        """Get or create the analysis of a prompt in a run; an existing row is kept."""
        row = {
            "run_id": run_id,
            "prompt_id": prompt_id,
            "track_id": track_id,
            "iteration": iteration,
            "weaknesses": weaknesses,
            "suggestions": suggestions,
            "case_keys": case_keys,
        }
        insert_ignore(self.session, WeaknessAnalysis, [row], ["run_id", "prompt_id"])
        stmt = select(WeaknessAnalysis).where(
            WeaknessAnalysis.run_id == run_id, WeaknessAnalysis.prompt_id == prompt_id
        )
        return self.session.scalars(stmt).one()

    def for_run(self, run_id: int, suite: str | None = None) -> list[WeaknessAnalysis]:
        """Return a run's analyses with `.prompt` loaded, by track and iteration."""
        stmt = (
            select(WeaknessAnalysis)
            .join(Prompt, WeaknessAnalysis.prompt_id == Prompt.id)
            .options(contains_eager(WeaknessAnalysis.prompt))
            .where(WeaknessAnalysis.run_id == run_id)
        )
        if suite is not None:
            stmt = stmt.where(Prompt.suite == suite)
        stmt = stmt.order_by(
            WeaknessAnalysis.track_id, WeaknessAnalysis.iteration, WeaknessAnalysis.id
        )
        return list(self.session.scalars(stmt))
