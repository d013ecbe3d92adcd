"""The lean run context: ids, the suite, settings and repository access; no result lists."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_promptopt.engine.recorder import case_row
from pytest_promptopt.optimize.selection import stable_seed
from pytest_promptopt.optimize.split import Split, split_cases
from pytest_promptopt.records.summary import StageT
from pytest_promptopt.storage.repositories import Repositories, transaction
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
        """The model that writes prompts and cases and analyses failures (never the judge's job)."""
        return self.settings.effective_optimizer_model

    def split(self) -> Split:
        """The given cases' seeded, stratified feedback / selection / confirmation split (the
        same every run)."""
        pairs = [(c.id, c.category) for c in self.suite.cases]
        return split_cases(
            pairs,
            self.settings.holdout,
            stable_seed(self.suite.name, "holdout"),
            confirm=self.settings.confirm,
        )

    def writer_cases(self, tiers: Iterable[str] = ("quick", "rigorous")) -> list[StoredCase]:
        """The cases prompt writers may see and candidates are ranked on: feedback and
        generated cases, never a held-out or a confirmation case."""
        split = self.split()
        hidden = {*split.holdout, *split.confirm}
        return [
            c for c in self.cases(["given", *tiers]) if not (c.stage == "given" and c.key in hidden)
        ]

    def confirm_cases(self) -> list[StoredCase]:
        """The confirmation cases: scored once, for the original and the final winner."""
        kept = set(self.split().confirm)
        return [c for c in self.cases(["given"]) if c.key in kept]

    def holdout_cases(self) -> list[StoredCase]:
        """The held-out given cases, which choose and gate the best prompt."""
        held = set(self.split().holdout)
        return [c for c in self.cases(["given"]) if c.key in held]

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
        part_of = self.split().part_of()
        with self.repos() as r:
            rows = [
                {**case_row(self.suite, c, "given"), "split": part_of[c.id]}
                for c in self.suite.cases
            ]
            stored = r.test_cases.upsert_many(self.run_id, self.suite.name, rows)
            # Rows the session's recorder stored first have no split yet.
            r.test_cases.set_split(self.run_id, self.suite.name, part_of)
            return stored

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

    def scored_means(self, prompt_id: int, case_ids: Iterable[int]) -> dict[int, float]:
        """Case id -> mean score over its samples, for the cases the prompt was scored on.

        A case that errored has no row, so it is absent: errors are not scores.
        """
        with self.repos() as r:
            return r.evaluations.mean_scores(prompt_id, list(case_ids))

    def common_means(
        self, prompt_ids: Sequence[int], case_ids: Iterable[int]
    ) -> tuple[list[int], dict[int, list[float]]]:
        """The cases every prompt was scored on, and each prompt's means on them in that order."""
        ids = list(case_ids)
        means = {pid: self.scored_means(pid, ids) for pid in prompt_ids}
        shared = [i for i in ids if all(i in m for m in means.values())]
        return shared, {pid: [m[i] for i in shared] for pid, m in means.items()}

    def mean_score(self, prompt_id: int, case_ids: Iterable[int]) -> float:
        """Mean of the per-case means over the cases it was scored on (0 when none)."""
        means = list(self.scored_means(prompt_id, case_ids).values())
        return statistics.fmean(means) if means else 0.0

    def stage_summary(self, model: type[StageT]) -> StageT:
        """The summary of this suite's completed `model.STAGE`; all defaults when not completed."""
        if not model.STAGE:
            raise TypeError(f"{model.__name__} is no stage's summary model")
        with self.repos() as r:
            row = r.stage_results.get(self.run_id, self.suite.name, model.STAGE)
            if row is None or row.status != "completed":
                return model()
            return model.parse(row.summary)
