"""Rows of `rate_limits`: the concurrency limit one session's xdist workers share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, case, select, update

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import RateLimit
from pytest_promptopt.storage.repositories.base import Repository


@dataclass(frozen=True)
class RateLimitRow:
    """A session's shared limit: ceiling, current and lowest value, refusals, decreases, pause."""

    ceiling: int
    current: int
    lowest: int
    generation: int
    refused: int
    paused_until: float


def read_rate_limit(connection: Connection, session_uid: str) -> RateLimitRow | None:
    """The session's row, read without a write lock (the workers' frequent sync)."""
    rl = RateLimit
    cols = (rl.ceiling, rl.current, rl.lowest, rl.generation, rl.refused, rl.paused_until)
    found = connection.execute(select(*cols).where(rl.session_uid == session_uid)).first()
    return None if found is None else RateLimitRow(*found)


class RateLimitRepository(Repository):
    """Rows of `rate_limits`; every change is one atomic UPDATE, on SQLite and PostgreSQL."""

    def open(self, session_uid: str, ceiling: int) -> None:
        """Create the session's row at `ceiling` unless a worker already did."""
        row = {
            "session_uid": session_uid,
            "ceiling": ceiling,
            "current": ceiling,
            "lowest": ceiling,
            "generation": 0,
            "refused": 0,
            "paused_until": 0.0,
        }
        insert_ignore(self.session, RateLimit, [row], ["session_uid"])

    def refused(
        self, session_uid: str, seen_generation: int, new_limit: int, paused_until: float
    ) -> None:
        """Count a refusal and extend the pause; decrease once per generation.

        The decrease applies only while the row is still at `seen_generation` (the generation
        the refused call started in): refusals of one burst, from any worker, decrease once.
        """
        rl = RateLimit
        pause = case((rl.paused_until < paused_until, paused_until), else_=rl.paused_until)
        self.session.execute(
            update(rl)
            .where(rl.session_uid == session_uid)
            .values(refused=rl.refused + 1, paused_until=pause)
        )
        lowest = case((rl.lowest > new_limit, new_limit), else_=rl.lowest)
        self.session.execute(
            update(rl)
            .where(rl.session_uid == session_uid, rl.generation == seen_generation)
            .where(rl.current > new_limit)
            .values(current=new_limit, lowest=lowest, generation=rl.generation + 1)
        )

    def grow(self, session_uid: str, increase: int) -> None:
        """Add `increase` to the current limit, up to the ceiling."""
        rl = RateLimit
        grown = case((rl.current + increase > rl.ceiling, rl.ceiling), else_=rl.current + increase)
        self.session.execute(update(rl).where(rl.session_uid == session_uid).values(current=grown))

    def get(self, session_uid: str) -> RateLimitRow | None:
        """The session's row now, or None when no worker opened one."""
        row = self.session.get(RateLimit, session_uid)
        if row is None:
            return None
        self.session.refresh(row)
        return RateLimitRow(
            row.ceiling, row.current, row.lowest, row.generation, row.refused, row.paused_until
        )
