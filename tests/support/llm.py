"""Helpers of the tests that drive the model service without a network or a cache."""

from __future__ import annotations

from typing import Any, cast

from pytest_promptopt.llm.budget import Budget
from pytest_promptopt.llm.callstore import CallStore
from pytest_promptopt.llm.clients import ClientPool
from pytest_promptopt.llm.models import ModelRules, rules_for
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.storage.database import Database

LOOKUP: dict[str, Any] = {
    "name": "lookup_order",
    "description": "Find an order by its number",
    "input_schema": {
        "type": "object",
        "properties": {"order": {"type": "string"}},
        "required": ["order"],
    },
}
"""A client tool definition, as the Messages API takes it."""


class OfflineService(LLMService):
    """The model service with the cache off, one call at a time and no retries; subclasses send."""

    def __init__(self) -> None:
        super().__init__(
            store=cast(CallStore, None),  # cache off: the store is never used
            budget=Budget(),
            cache_mode="off",
            concurrency=1,
            timeout_s=5,
            max_retries=0,
        )

    def known_profile(self, model: str) -> ModelRules:
        """The table's rules: no Models API call and no stored capabilities offline."""
        return rules_for(model)


def cached_service(db: Database, **options: Any) -> LLMService:
    """The model service over `db` with the cache on, two in flight, no retries, 5 s timeouts.

    `options` are further `LLMService` arguments (`run_id`, `batches`, `clients`, ...).
    """
    options.setdefault("clients", ClientPool(timeout_s=5, max_retries=0))
    return LLMService(
        store=CallStore(db),
        budget=Budget(),
        cache_mode="use",
        concurrency=2,
        timeout_s=5,
        max_retries=0,
        **options,
    )
