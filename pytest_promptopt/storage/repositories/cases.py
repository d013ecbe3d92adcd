"""Rows of `test_cases`: the given and generated cases of a suite in a run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import TestCase
from pytest_promptopt.storage.repositories.base import Repository


class TestCaseRepository(Repository):
    """Rows of `test_cases`."""

    __test__ = False  # not a pytest test class despite the name

    def upsert_many(self, run_id: int, suite: str, cases: list[dict[str, Any]]) -> dict[str, int]:
        """Insert the cases not yet stored; return the id of every given case key."""
        rows = [{**case, "run_id": run_id, "suite": suite} for case in cases]
        insert_ignore(self.session, TestCase, rows, ["run_id", "suite", "case_key"])
        wanted = {str(case["case_key"]) for case in cases}
        stmt = select(TestCase.case_key, TestCase.id).where(
            TestCase.run_id == run_id, TestCase.suite == suite
        )
        return {key: id_ for key, id_ in self.session.execute(stmt) if key in wanted}

    def set_split(self, run_id: int, suite: str, split: dict[str, str]) -> None:
        """Record each given case's optimize split (`feedback`, `holdout`, `confirm`) by key."""
        for key, part in split.items():
            self.session.execute(
                update(TestCase)
                .where(TestCase.run_id == run_id, TestCase.suite == suite)
                .where(TestCase.case_key == key, TestCase.stage == "given")
                .values(split=part)
            )

    def for_suite(
        self, run_id: int, suite: str, stages: Sequence[str] | None = None
    ) -> list[TestCase]:
        """Return the cases of a suite in a run, oldest first, optionally of some stages."""
        stmt = select(TestCase).where(TestCase.run_id == run_id, TestCase.suite == suite)
        if stages is not None:
            stmt = stmt.where(TestCase.stage.in_(list(stages)))
        return list(self.session.scalars(stmt.order_by(TestCase.id)))

    def ids_and_categories(
        self, run_id: int, suite: str, stages: Sequence[str]
    ) -> dict[str, tuple[int, str]]:
        """Case key -> (row id, category) for a suite's cases of some stages (no ORM objects)."""
        stmt = select(TestCase.case_key, TestCase.id, TestCase.category).where(
            TestCase.run_id == run_id, TestCase.suite == suite, TestCase.stage.in_(list(stages))
        )
        return {key: (id_, category) for key, id_, category in self.session.execute(stmt)}

    def by_keys(self, run_id: int, suite: str, keys: Iterable[str]) -> dict[str, TestCase]:
        """Return the stored cases with these keys, by key (missing keys are left out)."""
        wanted = set(keys)
        stmt = select(TestCase).where(TestCase.run_id == run_id, TestCase.suite == suite)
        return {
            case.case_key: case for case in self.session.scalars(stmt) if case.case_key in wanted
        }

    def for_run(self, run_id: int, stage: str | None = None) -> list[TestCase]:
        """Return the cases of every suite in a run, oldest first, optionally of one stage."""
        stmt = select(TestCase).where(TestCase.run_id == run_id)
        if stage is not None:
            stmt = stmt.where(TestCase.stage == stage)
        return list(self.session.scalars(stmt.order_by(TestCase.id)))
