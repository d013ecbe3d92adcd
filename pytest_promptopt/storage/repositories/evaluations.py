"""Rows of `evaluations`: one judged sample of a prompt on a case."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, func, select

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import Evaluation
from pytest_promptopt.storage.repositories.base import Repository


class EvaluationRepository(Repository):
    """Rows of `evaluations`."""

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert evaluations, skipping any (prompt, case, sample) already stored."""
        insert_ignore(self.session, Evaluation, rows, ["prompt_id", "test_case_id", "sample"])

    def get(self, evaluation_id: int) -> Evaluation | None:
        """Return one evaluation by id."""
        return self.session.get(Evaluation, evaluation_id)

    def for_prompt(
        self, prompt_id: int, test_case_ids: Iterable[int] | None = None
    ) -> list[Evaluation]:
        """Return a prompt's evaluations ordered by case and sample."""
        stmt = select(Evaluation).where(Evaluation.prompt_id == prompt_id)
        if test_case_ids is not None:
            stmt = stmt.where(Evaluation.test_case_id.in_(list(test_case_ids)))
        stmt = stmt.order_by(Evaluation.test_case_id, Evaluation.sample)
        return list(self.session.scalars(stmt))

    def report_rows(self, prompt_id: int) -> Sequence[Row[Any]]:
        """What the reports show of a prompt's evaluations, by case and sample (no ORM objects)."""
        stmt = (
            select(
                Evaluation.test_case_id,
                Evaluation.reasoning,
                Evaluation.model_response,
                Evaluation.assertion_results,
                Evaluation.cached,
                Evaluation.tool_calls,
                Evaluation.stop_reason,
                Evaluation.trajectory,
            )
            .where(Evaluation.prompt_id == prompt_id)
            .order_by(Evaluation.test_case_id, Evaluation.sample)
        )
        return self.session.execute(stmt).all()

    def done_keys(self, prompt_id: int) -> set[tuple[int, int]]:
        """Return the (test_case_id, sample) pairs already evaluated for a prompt."""
        stmt = select(Evaluation.test_case_id, Evaluation.sample).where(
            Evaluation.prompt_id == prompt_id
        )
        return {(case_id, sample) for case_id, sample in self.session.execute(stmt)}

    def mean_scores(
        self, prompt_id: int, test_case_ids: Iterable[int] | None = None
    ) -> dict[int, float]:
        """Return the mean overall score per test case over its samples."""
        stmt = select(Evaluation.test_case_id, func.avg(Evaluation.overall_score)).where(
            Evaluation.prompt_id == prompt_id
        )
        if test_case_ids is not None:
            stmt = stmt.where(Evaluation.test_case_id.in_(list(test_case_ids)))
        stmt = stmt.group_by(Evaluation.test_case_id)
        return {case_id: float(mean) for case_id, mean in self.session.execute(stmt)}

    def judge_versions(self, run_id: int) -> list[str]:
        """The judge versions a run's evaluations were judged with (NULL ones left out)."""
        stmt = (
            select(Evaluation.judge_version)
            .where(Evaluation.run_id == run_id, Evaluation.judge_version.is_not(None))
            .distinct()
        )
        return sorted(str(v) for v in self.session.scalars(stmt))

    def count(self, run_id: int) -> int:
        """Return how many evaluations a run stored."""
        stmt = select(func.count()).select_from(Evaluation).where(Evaluation.run_id == run_id)
        return int(self.session.scalar(stmt) or 0)

    def for_run(self, run_id: int) -> list[Evaluation]:
        """Return every evaluation of a run in insertion order."""
        stmt = select(Evaluation).where(Evaluation.run_id == run_id).order_by(Evaluation.id)
        return list(self.session.scalars(stmt))
