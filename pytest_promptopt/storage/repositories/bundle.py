"""Every repository over one session, and the transaction that hands them out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from pytest_promptopt.storage.repositories.baselines import BaselineRepository
from pytest_promptopt.storage.repositories.batches import BatchRepository
from pytest_promptopt.storage.repositories.budget_ledgers import BudgetLedgerRepository
from pytest_promptopt.storage.repositories.capabilities import CapabilityRepository
from pytest_promptopt.storage.repositories.cases import TestCaseRepository
from pytest_promptopt.storage.repositories.claims import PipelineClaimRepository
from pytest_promptopt.storage.repositories.evaluations import EvaluationRepository
from pytest_promptopt.storage.repositories.label_matches import LabelMatchRepository
from pytest_promptopt.storage.repositories.labels import LabelRepository
from pytest_promptopt.storage.repositories.llm_calls import LLMCallRepository
from pytest_promptopt.storage.repositories.prompts import PromptRepository
from pytest_promptopt.storage.repositories.rate_limits import RateLimitRepository
from pytest_promptopt.storage.repositories.runs import RunRepository
from pytest_promptopt.storage.repositories.shards import RunShardRepository
from pytest_promptopt.storage.repositories.stage_results import StageResultRepository
from pytest_promptopt.storage.repositories.weaknesses import WeaknessRepository

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pytest_promptopt.storage.database import Database


class Repositories:
    """The repositories of one database session, each made on first use."""

    def __init__(self, session: Session) -> None:
        """Bind every repository to `session`; committing is the caller's job."""
        self.session = session

    @cached_property
    def runs(self) -> RunRepository:
        """Rows of `optimization_runs`."""
        return RunRepository(self.session)

    @cached_property
    def prompts(self) -> PromptRepository:
        """Rows of `prompts`."""
        return PromptRepository(self.session)

    @cached_property
    def test_cases(self) -> TestCaseRepository:
        """Rows of `test_cases`."""
        return TestCaseRepository(self.session)

    @cached_property
    def evaluations(self) -> EvaluationRepository:
        """Rows of `evaluations`."""
        return EvaluationRepository(self.session)

    @cached_property
    def stage_results(self) -> StageResultRepository:
        """Rows of `stage_results`."""
        return StageResultRepository(self.session)

    @cached_property
    def weaknesses(self) -> WeaknessRepository:
        """Rows of `weakness_analyses`."""
        return WeaknessRepository(self.session)

    @cached_property
    def llm_calls(self) -> LLMCallRepository:
        """Rows of `llm_calls`, the response cache."""
        return LLMCallRepository(self.session)

    @cached_property
    def budget_ledgers(self) -> BudgetLedgerRepository:
        """Rows of `budget_ledgers`."""
        return BudgetLedgerRepository(self.session)

    @cached_property
    def baselines(self) -> BaselineRepository:
        """Rows of `baselines`."""
        return BaselineRepository(self.session)

    @cached_property
    def rate_limits(self) -> RateLimitRepository:
        """Rows of `rate_limits`."""
        return RateLimitRepository(self.session)

    @cached_property
    def capabilities(self) -> CapabilityRepository:
        """Rows of `model_capabilities`, what the Models API said of each model."""
        return CapabilityRepository(self.session)

    @cached_property
    def batches(self) -> BatchRepository:
        """Rows of `batches`, the Message Batches submitted."""
        return BatchRepository(self.session)

    @cached_property
    def labels(self) -> LabelRepository:
        """Rows of `labels`, people's labels of judged answers."""
        return LabelRepository(self.session)

    @cached_property
    def shards(self) -> RunShardRepository:
        """Rows of `run_shards`, the shards of named runs."""
        return RunShardRepository(self.session)

    @cached_property
    def label_matches(self) -> LabelMatchRepository:
        """Labels with the judged evaluations of their answers."""
        return LabelMatchRepository(self.session)

    @cached_property
    def pipeline_claims(self) -> PipelineClaimRepository:
        """The `pipeline_owner` rows of `stage_results`."""
        return PipelineClaimRepository(self.session)


@contextmanager
def transaction(db: Database) -> Iterator[Repositories]:
    """The repositories of one transaction: committed when the block ends, rolled back on error."""
    with db.session_scope() as session:
        yield Repositories(session)


@contextmanager
def read_transaction(db: Database) -> Iterator[Repositories]:
    """The repositories of one read: no write lock on SQLite, never committed (the viewer's)."""
    from sqlalchemy.orm import Session

    with db.read_scope() as connection, Session(bind=connection) as session:
        try:
            yield Repositories(session)
        finally:
            session.rollback()
