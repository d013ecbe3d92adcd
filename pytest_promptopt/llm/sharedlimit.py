"""The concurrency limit of a session kept in the database, so xdist workers adapt as one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_promptopt.llm.limiter import LimitState, describe_limit

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database
    from pytest_promptopt.storage.repositories import RateLimitRow


class DatabaseLimit:
    """A `SharedLimit` in the session's `rate_limits` row (one short transaction per use).

    The limiter calls `refused` on each 429/529 and `sync` at most every few hundred ms, so the
    database sees a handful of statements a second at most.
    """

    def __init__(self, db: Database, session_uid: str, ceiling: int) -> None:
        """Share the row of `session_uid`, creating it at `ceiling` when this process is first."""
        from pytest_promptopt.storage.repositories import transaction

        self._db = db
        self._uid = session_uid
        self._ceiling = ceiling
        with transaction(db) as repos:
            repos.rate_limits.open(session_uid, ceiling)

    def refused(self, seen_generation: int, new_limit: int, paused_until: float) -> LimitState:
        """Count a refusal (decreasing once per generation) and read the common state."""
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            repos.rate_limits.refused(self._uid, seen_generation, new_limit, paused_until)
            return self._state(repos.rate_limits.get(self._uid))

    def sync(self, increase: int) -> LimitState:
        """Add this process's increase (up to the ceiling) and read the common state."""
        from pytest_promptopt.storage.repositories import read_rate_limit, transaction

        if not increase:
            with self._db.read_scope() as connection:
                return self._state(read_rate_limit(connection, self._uid))
        with transaction(self._db) as repos:
            repos.rate_limits.grow(self._uid, increase)
            return self._state(repos.rate_limits.get(self._uid))

    def _state(self, row: RateLimitRow | None) -> LimitState:
        if row is None:  # the row is gone (a cleaned database): start again from the ceiling
            return LimitState(self._ceiling, 0, 0.0)
        return LimitState(row.current, row.generation, row.paused_until)


def describe_session_limit(db: Database, session_uid: str) -> str | None:
    """How the session's shared limit moved (for the controller's summary), or None."""
    from pytest_promptopt.storage.repositories import read_rate_limit

    with db.read_scope() as connection:
        row = read_rate_limit(connection, session_uid)
    if row is None:
        return None
    return describe_limit(row.ceiling, row.lowest, row.current, row.refused)
