"""Repositories: every query of the plugin, one module per table (or close group of tables).

Each repository works in one `Session` and leaves the transaction to its caller; code outside
`storage` gets them through `transaction(db)`, which needs no SQLAlchemy type.
"""

from __future__ import annotations

from pytest_promptopt.storage.repositories.base import Repository
from pytest_promptopt.storage.repositories.baselines import BaselineRepository
from pytest_promptopt.storage.repositories.batches import BatchRepository
from pytest_promptopt.storage.repositories.budget_ledgers import (
    BudgetLedgerRepository,
    LedgerTotals,
)
from pytest_promptopt.storage.repositories.bundle import (
    Repositories,
    read_transaction,
    transaction,
)
from pytest_promptopt.storage.repositories.cases import TestCaseRepository
from pytest_promptopt.storage.repositories.claims import (
    CLAIM_STAGE,
    Claim,
    PipelineClaimRepository,
)
from pytest_promptopt.storage.repositories.evaluations import EvaluationRepository
from pytest_promptopt.storage.repositories.label_matches import (
    JudgedAnswer,
    LabelMatch,
    LabelMatchRepository,
)
from pytest_promptopt.storage.repositories.labels import (
    OVERALL,
    LabelInput,
    LabelRepository,
    LabelTarget,
    answer_hash,
    evaluation_answer_hash,
    judged_criteria,
)
from pytest_promptopt.storage.repositories.llm_calls import (
    CallStats,
    LLMCallRepository,
    cached_responses,
)
from pytest_promptopt.storage.repositories.prompts import PromptRepository, prompt_hash
from pytest_promptopt.storage.repositories.rate_limits import (
    RateLimitRepository,
    RateLimitRow,
    read_rate_limit,
)
from pytest_promptopt.storage.repositories.runs import (
    FINISHED_RUN_STATUSES,
    HEARTBEAT_S,
    RESUMABLE_STATUSES,
    STALE_S,
    UNFINISHED_RUN_STATUSES,
    Holder,
    Owner,
    RunRepository,
    pid_alive,
)
from pytest_promptopt.storage.repositories.shards import (
    FINISHED_SHARD_STATUSES,
    RunShardRepository,
    ShardState,
    missing_shards,
)
from pytest_promptopt.storage.repositories.stage_results import StageResultRepository
from pytest_promptopt.storage.repositories.weaknesses import WeaknessRepository

__all__ = [
    "CLAIM_STAGE",
    "FINISHED_RUN_STATUSES",
    "FINISHED_SHARD_STATUSES",
    "HEARTBEAT_S",
    "OVERALL",
    "RESUMABLE_STATUSES",
    "STALE_S",
    "UNFINISHED_RUN_STATUSES",
    "BaselineRepository",
    "BatchRepository",
    "BudgetLedgerRepository",
    "CallStats",
    "Claim",
    "EvaluationRepository",
    "Holder",
    "JudgedAnswer",
    "LLMCallRepository",
    "LabelInput",
    "LabelMatch",
    "LabelMatchRepository",
    "LabelRepository",
    "LabelTarget",
    "LedgerTotals",
    "Owner",
    "PipelineClaimRepository",
    "PromptRepository",
    "RateLimitRepository",
    "RateLimitRow",
    "Repositories",
    "Repository",
    "RunRepository",
    "RunShardRepository",
    "ShardState",
    "StageResultRepository",
    "TestCaseRepository",
    "WeaknessRepository",
    "answer_hash",
    "cached_responses",
    "evaluation_answer_hash",
    "judged_criteria",
    "missing_shards",
    "pid_alive",
    "prompt_hash",
    "read_rate_limit",
    "read_transaction",
    "transaction",
]
