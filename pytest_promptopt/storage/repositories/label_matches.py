"""People's labels matched with judged evaluations of the same answer (by its hash)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from pytest_promptopt.storage.models import Evaluation, Label, OptimizationRun, TestCase
from pytest_promptopt.storage.repositories.base import CHUNK, Repository
from pytest_promptopt.storage.repositories.labels import evaluation_answer_hash


@dataclass(frozen=True)
class JudgedAnswer:
    """What the judge said of one labelled answer: scores, overall, pass, version and model."""

    evaluation_id: int
    run_id: int
    suite: str
    case_key: str
    answer_hash: str
    scores: dict[str, float | None]
    overall_score: float
    passed: bool
    judge_version: str | None
    judge_model: str | None


@dataclass(frozen=True)
class LabelMatch:
    """One label with the judged answer it is compared with."""

    criterion: str
    labeller: str
    level: int | None
    passed: bool | None
    judged: JudgedAnswer


def _judge_model(settings: dict[str, Any] | None) -> str | None:
    """The judge model a run used (its judge model, else its model under test)."""
    settings = settings or {}
    model = settings.get("judge_model") or settings.get("model")
    return str(model) if model else None


class LabelMatchRepository(Repository):
    """Labels joined with the judged evaluations of their answers."""

    def matches(self, suite: str | None = None, run_id: int | None = None) -> list[LabelMatch]:
        """Every label (of `suite` when given) with its judged answer.

        Without `run_id`: the newest judged evaluation of each labelled answer in the database;
        with it: that run's newest judged evaluation of the answer. A label whose answer has
        no judged evaluation there is left out.
        """
        stmt = select(Label).order_by(Label.id)
        if suite is not None:
            stmt = stmt.where(Label.suite == suite)
        labels = list(self.session.scalars(stmt))
        if not labels:
            return []
        wanted: dict[str, set[str]] = defaultdict(set)
        for label in labels:
            wanted[label.suite].add(label.case_key)
        judged = self._judged(wanted, run_id)
        return [
            LabelMatch(label.criterion, label.labeller, label.level, label.passed, answer)
            for label in labels
            if (answer := judged.get(label.answer_hash)) is not None
        ]

    def _judged(self, wanted: dict[str, set[str]], run_id: int | None) -> dict[str, JudgedAnswer]:
        """The newest judged evaluation of each answer hash of the wanted cases."""
        found: dict[str, JudgedAnswer] = {}
        for suite, keys in wanted.items():
            for rows in self._rows(suite, sorted(keys), run_id):
                for evaluation, case, settings in rows:
                    digest = evaluation_answer_hash(evaluation, case)
                    found[digest] = JudgedAnswer(
                        evaluation_id=evaluation.id,
                        run_id=evaluation.run_id,
                        suite=case.suite,
                        case_key=case.case_key,
                        answer_hash=digest,
                        scores=dict(evaluation.scores or {}),
                        overall_score=float(evaluation.overall_score),
                        passed=bool(evaluation.passed),
                        judge_version=evaluation.judge_version,
                        judge_model=_judge_model(settings),
                    )
        return found

    def _rows(
        self, suite: str, keys: list[str], run_id: int | None
    ) -> Iterable[list[tuple[Evaluation, TestCase, dict[str, Any]]]]:
        """The judged evaluations of `keys` in `suite`, oldest first, in chunks."""
        for start in range(0, len(keys), CHUNK):
            stmt = (
                select(Evaluation, TestCase, OptimizationRun.settings)
                .join(TestCase, Evaluation.test_case_id == TestCase.id)
                .join(OptimizationRun, Evaluation.run_id == OptimizationRun.id)
                .where(
                    TestCase.suite == suite,
                    TestCase.case_key.in_(keys[start : start + CHUNK]),
                    Evaluation.judge_version.is_not(None),
                )
                .order_by(Evaluation.id)
            )
            if run_id is not None:
                stmt = stmt.where(Evaluation.run_id == run_id)
            yield [(e, c, s) for e, c, s in self.session.execute(stmt)]
