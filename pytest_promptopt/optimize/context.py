"""The lean run context: ids, the suite, settings and repository access; no result lists."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_promptopt.engine.recorder import case_row
from pytest_promptopt.storage.repositories import Repositories, transaction
from pytest_promptopt.storage.stage_summaries import StageT
from pytest_promptopt.suites.spec import Case, Suite

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.evaluation.evaluator import Evaluator
    from pytest_promptopt.llm.budget import Budget
    from pytest_promptopt.llm.service import LLMService
    from pytest_promptopt.settings import OptimizeSettings, Settings
    from pytest_promptopt.storage.database import Database
    from pytest_promptopt.storage.models import TestCase


@dataclass(frozen=True)
class StoredCase:
    """A test_cases row turned back into a Case the evaluator can run."""

    id: int
    key: str
    stage: str
    case: Case


@dataclass
class RunContext:
    """What every stage needs: ids, the suite, settings and services; data lives in the database."""

    run_id: int
    suite: Suite
    settings: Settings
    db: Database
    llm: LLMService
    evaluator: Evaluator
    budget: Budget

    @classmethod
    def from_runtime(cls, runtime: Runtime, suite: Suite, run_id: int | None = None) -> RunContext:
        """A context on the runtime's services, in `run_id` (default: this session's run)."""
        return cls(
            run_id=runtime.run_id if run_id is None else run_id,
            suite=suite,
            settings=runtime.settings,
            db=runtime.db,
            llm=runtime.llm,
            evaluator=runtime.evaluator,
            budget=runtime.budget,
        )

    @property
    def knobs(self) -> OptimizeSettings:
        """The pipeline's size settings."""
        return self.settings.knobs

    @property
    def generator_model(self) -> str:
        """The model that writes prompts and cases and analyses failures."""
        return self.settings.effective_judge_model

    @contextmanager
    def repos(self) -> Iterator[Repositories]:
        """The repositories inside one committed transaction."""
        with transaction(self.db) as repos:
            yield repos

    def samples_for(self, case: Case) -> int:
        """Samples per evaluation of a case: the knob, or more when the suite repeats the case."""
        return max(self.knobs.samples, self.suite.repeats_for(case))

    def original_prompt_id(self) -> int:
        """Get or create the row of the suite's own prompt."""
        with self.repos() as r:
            prompt = r.prompts.add(
                self.run_id,
                self.suite.name,
                self.suite.system_template,
                stage="initial",
                strategy="original",
                is_original=True,
            )
            return int(prompt.id)

    def store_given_cases(self) -> dict[str, int]:
        """Get or create the rows of the user's cases (stage `given`)."""
        with self.repos() as r:
            rows = [case_row(c, "given") for c in self.suite.cases]
            return r.test_cases.upsert_many(self.run_id, self.suite.name, rows)

    def cases(self, stages: Iterable[str]) -> list[StoredCase]:
        """The stored cases of some stages, oldest first."""
        with self.repos() as r:
            rows = r.test_cases.for_suite(self.run_id, self.suite.name, stages=list(stages))
            return [self._stored(row) for row in rows]

    def _stored(self, row: TestCase) -> StoredCase:
        given = {c.id: c for c in self.suite.cases}
        if row.stage == "given" and row.case_key in given:
            case = given[row.case_key]
        else:
            data: dict[str, Any] = dict(row.spec or {})
            data.update(id=row.case_key, input=row.input_message, expected=row.expected_behavior)
            data.setdefault("category", row.category)
            case = Case.model_validate(data)
        return StoredCase(int(row.id), row.case_key, row.stage, case)

    def case_means(self, prompt_id: int, case_ids: Iterable[int]) -> list[float]:
        """Mean score per case over its samples, in `case_ids` order; unevaluated cases score 0."""
        ids = list(case_ids)
        with self.repos() as r:
            means = r.evaluations.mean_scores(prompt_id, ids)
        return [means.get(i, 0.0) for i in ids]

    def mean_score(self, prompt_id: int, case_ids: Iterable[int]) -> float:
        """Mean of the per-case means (0 when there are no cases)."""
        means = self.case_means(prompt_id, case_ids)
        return statistics.fmean(means) if means else 0.0

    def stage_summary(self, model: type[StageT]) -> StageT:
        """The summary of this suite's completed `model.STAGE`; all defaults when not completed."""
        with self.repos() as r:
            row = r.stage_results.get(self.run_id, self.suite.name, model.STAGE)
            if row is None or row.status != "completed":
                return model()
            return model.parse(row.summary)
