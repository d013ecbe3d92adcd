"""Rows of `labels`: people's labels of judged answers, matched to answers by their hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from pytest_promptopt.storage.models import Evaluation, Label, TestCase
from pytest_promptopt.storage.repositories.base import CHUNK, Repository

OVERALL = "overall"
"""The criterion name of a label of the answer as a whole."""
BUILTIN_CRITERIA = ("functionality", "safety", "consistency", "edge_case_handling")
"""The criteria with their own `evaluations` column (read when `scores` is NULL)."""


def answer_hash(suite: str, case_key: str, response: str, tool_calls: Any = None) -> str:
    """The hash a label attaches to: suite, case key, answer text and tool calls (sha256 hex)."""
    payload = json.dumps(
        [suite, case_key, response, tool_calls or None], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def evaluation_answer_hash(evaluation: Evaluation, case: TestCase) -> str:
    """The answer hash of a stored evaluation of `case`."""
    return answer_hash(case.suite, case.case_key, evaluation.model_response, evaluation.tool_calls)


def judged_criteria(evaluation: Evaluation) -> list[str]:
    """The criteria the judge scored on `evaluation` (a not-applicable one too), in its order."""
    if evaluation.scores:
        return list(evaluation.scores)
    return [name for name in BUILTIN_CRITERIA if getattr(evaluation, name) is not None]


@dataclass(frozen=True)
class LabelTarget:
    """A stored answer that can be labelled: its evaluation, its case and its answer hash."""

    evaluation: Evaluation
    case: TestCase
    answer_hash: str
    missing: tuple[str, ...] = ()
    """The asked-for criteria the labeller has not labelled yet (`unlabelled` fills it)."""


@dataclass(frozen=True)
class LabelInput:
    """One label to write: which criterion, the level or pass/fail, who and why."""

    criterion: str = OVERALL
    level: int | None = None
    passed: bool | None = None
    labeller: str = "anonymous"
    note: str | None = None


class LabelRepository(Repository):
    """Rows of `labels` (one per answer hash, criterion and labeller)."""

    def put(self, evaluation: Evaluation, label: LabelInput) -> Label:
        """Write `label` for `evaluation`'s answer, replacing the labeller's earlier one."""
        if label.level is None and label.passed is None:
            raise ValueError("a label needs a level or pass/fail")
        if label.level is not None and not 1 <= label.level <= 5:
            raise ValueError(f"a label's level is 1-5, not {label.level}")
        case = evaluation.test_case
        digest = evaluation_answer_hash(evaluation, case)
        stmt = select(Label).where(
            Label.answer_hash == digest,
            Label.criterion == label.criterion,
            Label.labeller == label.labeller,
        )
        row = self.session.scalars(stmt).first()
        if row is None:
            row = Label(answer_hash=digest, criterion=label.criterion, labeller=label.labeller)
            self.session.add(row)
        row.evaluation_id = evaluation.id
        row.suite = case.suite
        row.case_key = case.case_key
        row.level = label.level
        row.passed = label.passed
        row.note = label.note
        self.session.flush()
        return row

    def for_hashes(self, hashes: Sequence[str]) -> list[Label]:
        """Every label of the given answer hashes, oldest first."""
        rows: list[Label] = []
        unique = sorted(set(hashes))
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            stmt = select(Label).where(Label.answer_hash.in_(chunk)).order_by(Label.id)
            rows.extend(self.session.scalars(stmt))
        return rows

    def for_suite(self, suite: str | None = None) -> list[Label]:
        """Every label (of one suite when given), oldest first."""
        stmt = select(Label).order_by(Label.id)
        if suite is not None:
            stmt = stmt.where(Label.suite == suite)
        return list(self.session.scalars(stmt))

    def labelled_hashes(self, labeller: str | None = None) -> set[str]:
        """The answer hashes that have at least one label (by `labeller` when given)."""
        stmt = select(Label.answer_hash).distinct()
        if labeller is not None:
            stmt = stmt.where(Label.labeller == labeller)
        return set(self.session.scalars(stmt))

    def targets(
        self,
        run_id: int,
        *,
        suites: Collection[str] | None = None,
        prompt_ids: Collection[int] | None = None,
        stage: str | None = "given",
        judged_only: bool = True,
    ) -> list[LabelTarget]:
        """A run's answers (judged ones only unless asked), by case row and sample."""
        stmt = (
            select(Evaluation, TestCase)
            .join(TestCase, Evaluation.test_case_id == TestCase.id)
            .where(Evaluation.run_id == run_id)
            .order_by(TestCase.id, Evaluation.sample, Evaluation.id)
        )
        if suites is not None:
            stmt = stmt.where(TestCase.suite.in_(list(suites)))
        if prompt_ids is not None:
            stmt = stmt.where(Evaluation.prompt_id.in_(list(prompt_ids)))
        if stage is not None:
            stmt = stmt.where(TestCase.stage == stage)
        if judged_only:  # rows judged before versioning have reasoning but no version
            stmt = stmt.where(
                or_(Evaluation.judge_version.is_not(None), Evaluation.reasoning.is_not(None))
            )
        return [
            LabelTarget(ev, case, evaluation_answer_hash(ev, case))
            for ev, case in self.session.execute(stmt)
        ]

    def unlabelled(
        self,
        run_id: int,
        labeller: str,
        *,
        suites: Collection[str] | None = None,
        criteria: Sequence[str] = (OVERALL,),
        prompt_ids: Collection[int] | None = None,
    ) -> list[LabelTarget]:
        """A run's judged answers missing a label by `labeller` on one of `criteria`.

        Each answer comes once (the first evaluation with its hash); a criterion the judge did
        not score on it is not asked for (`overall` always is). `missing` lists what is left.
        """
        found: list[LabelTarget] = []
        seen: set[str] = set()
        candidates = self.targets(run_id, suites=suites, prompt_ids=prompt_ids)
        done = {
            (label.answer_hash, label.criterion)
            for label in self.for_hashes([t.answer_hash for t in candidates])
            if label.labeller == labeller
        }
        for target in candidates:
            if target.answer_hash in seen:
                continue
            seen.add(target.answer_hash)
            scored = {OVERALL, *judged_criteria(target.evaluation)}
            missing = tuple(
                c for c in criteria if c in scored and (target.answer_hash, c) not in done
            )
            if missing:
                found.append(
                    LabelTarget(target.evaluation, target.case, target.answer_hash, missing)
                )
        return found
