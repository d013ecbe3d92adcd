"""Storage: SQLAlchemy models, the `Database` handle, Alembic migrations and repositories."""

from __future__ import annotations

from pytest_promptopt.storage.database import Database, insert_ignore
from pytest_promptopt.storage.models import (
    Base,
    Evaluation,
    LLMCall,
    OptimizationRun,
    Prompt,
    StageResult,
    TestCase,
    WeaknessAnalysis,
)
from pytest_promptopt.storage.repositories import (
    BudgetLedgerRepository,
    CallStats,
    EvaluationRepository,
    LLMCallRepository,
    PipelineClaimRepository,
    PromptRepository,
    Repositories,
    RunRepository,
    StageResultRepository,
    TestCaseRepository,
    WeaknessRepository,
    prompt_hash,
    read_transaction,
    transaction,
)

__all__ = [
    "Base",
    "BudgetLedgerRepository",
    "CallStats",
    "Database",
    "Evaluation",
    "EvaluationRepository",
    "LLMCall",
    "LLMCallRepository",
    "OptimizationRun",
    "PipelineClaimRepository",
    "Prompt",
    "PromptRepository",
    "Repositories",
    "RunRepository",
    "StageResult",
    "StageResultRepository",
    "TestCase",
    "TestCaseRepository",
    "WeaknessAnalysis",
    "WeaknessRepository",
    "insert_ignore",
    "prompt_hash",
    "read_transaction",
    "transaction",
]
