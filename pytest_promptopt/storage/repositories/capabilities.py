"""Rows of `model_capabilities`: what the Models API said each model supports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pytest_promptopt.storage.models import ModelCapability, utcnow
from pytest_promptopt.storage.repositories.base import Repository


class CapabilityRepository(Repository):
    """Rows of `model_capabilities`, one per model name."""

    def get(self, model: str) -> dict[str, Any] | None:
        """The stored capabilities of a model, or None."""
        stmt = select(ModelCapability.capabilities).where(ModelCapability.model == model)
        row = self.session.execute(stmt).scalar_one_or_none()
        return dict(row) if row is not None else None

    def put(self, model: str, capabilities: dict[str, Any], source: str = "api") -> None:
        """Store (or replace) a model's capabilities."""
        row = self.session.get(ModelCapability, model)
        if row is None:
            self.session.add(ModelCapability(model=model, capabilities=capabilities, source=source))
        else:
            row.capabilities = capabilities
            row.source = source
            row.fetched_at = utcnow()
