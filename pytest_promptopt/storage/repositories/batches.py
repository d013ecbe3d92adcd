"""Rows of `batches`: the Message Batches submitted from this database and what they hold."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update

from pytest_promptopt.storage.models import MessageBatch, utcnow
from pytest_promptopt.storage.repositories.base import Repository


class BatchRepository(Repository):
    """Rows of `batches`; a batch is `submitted` until its results are collected."""

    def add(
        self, batch_id: str, model: str, request_hashes: Iterable[str], run_id: int | None
    ) -> None:
        """Record a batch just submitted, with the request hashes (its custom_ids) it holds."""
        self.session.add(
            MessageBatch(
                id=batch_id,
                model=model,
                status="submitted",
                request_hashes=list(request_hashes),
                run_id=run_id,
            )
        )

    def unfinished(self) -> list[tuple[str, str, list[str]]]:
        """(batch id, model, request hashes) of every batch whose results were not collected."""
        stmt = (
            select(MessageBatch.id, MessageBatch.model, MessageBatch.request_hashes)
            .where(MessageBatch.status == "submitted")
            .order_by(MessageBatch.created_at)
        )
        return [(i, m, list(h)) for i, m, h in self.session.execute(stmt)]

    def collected(self, batch_id: str) -> None:
        """Mark a batch's results as collected (it is not resumed again)."""
        stmt = (
            update(MessageBatch)
            .where(MessageBatch.id == batch_id)
            .values(status="collected", collected_at=utcnow())
        )
        self.session.execute(stmt)
