"""What each model accepts: asked of the Models API once per run, kept in the database."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from pytest_promptopt.llm.models import Capabilities, ModelRules, profile, rules_for
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from pytest_promptopt.llm.callstore import CallStore
    from pytest_promptopt.llm.clients import ClientPool


class ModelProfiles:
    """The rules of the models a run calls: read this run, stored by an earlier one, or asked."""

    def __init__(self, store: CallStore, clients: ClientPool, *, cache_mode: str) -> None:
        """`cache_mode` replay takes the table's rules for a model with none stored."""
        self.store = store
        self.cache_mode = cache_mode
        self._clients = clients
        self._profiles: dict[str, ModelRules] = {}
        self._tasks: dict[str, asyncio.Future[ModelRules]] = {}
        self._unstored: set[str] = set()  # models with no stored capabilities (asked once)

    def read(self, model: str) -> ModelRules | None:
        """The rules already read this run (by `known` or an answered question), or None."""
        return self._profiles.get(model)

    def start(self, model: str) -> None:
        """Start asking the Models API about `model` (once), so later calls need not wait."""
        if model not in self._tasks:
            self._tasks[model] = asyncio.ensure_future(self._describe(model))

    def known(self, model: str) -> ModelRules | None:
        """A model's rules when already known without a call: read this run, stored by an
        earlier one (`model_capabilities`), or, under replay, the table's; else None."""
        known = self._profiles.get(model)
        if known is not None or model in self._unstored:
            return known
        if model == SIMULATED_MODEL:  # our own simulator: what it would answer is the table's
            known = self._profiles[model] = rules_for(model)
            return known
        try:
            stored = self.store.capabilities(model)
        except Exception:  # an unreadable row: ask the API again
            stored = None
        if stored is None and self.cache_mode != "replay":
            self._unstored.add(model)
        if stored is not None:
            known = profile(model, Capabilities.from_row(stored))
        elif self.cache_mode == "replay":
            known = rules_for(model)
        if known is not None:
            self._profiles[model] = known
        return known

    async def asked(self, model: str, known: ModelRules | None) -> ModelRules:
        """`known` when given, else the Models API's answer (one question per model per run)."""
        if known is not None:
            return known
        self.start(model)
        return await asyncio.shield(self._tasks[model])

    async def _describe(self, model: str) -> ModelRules:
        """Ask the Models API what `model` supports; the table's rules when it cannot say."""
        try:
            client = self._clients.for_model(model)
            info = await client.models.retrieve(model, timeout=30.0)
            raw = info.capabilities.model_dump(mode="json") if info.capabilities else None
        except Exception:  # 404 for an alias, no credentials, no network: the table decides
            raw = None
        if raw is None:
            rules = rules_for(model)
        else:
            capabilities = Capabilities.of(raw)
            rules = profile(model, capabilities)
            with contextlib.suppress(Exception):  # a read-only database still runs
                self.store.record_capabilities(model, capabilities.as_row())
        self._profiles[model] = rules
        return rules
