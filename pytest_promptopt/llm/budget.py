"""Hard caps on calls and spend: a call is reserved before it is sent and settled after."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_promptopt.errors import BudgetExceededError

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database


@dataclass
class Reservation:
    """A call's claim on the budget, settled with its real cost."""

    estimate_usd: float
    settled: bool = False


class Budget:
    """Counts calls and dollars against optional caps; thread-safe."""

    def __init__(self, max_calls: int | None = None, max_usd: float | None = None) -> None:
        self.max_calls = max_calls
        self.max_usd = max_usd
        self.calls = 0
        self.spent_usd = 0.0
        self._reserved_usd = 0.0
        self._lock = threading.Lock()
        self.stopped_by: str | None = None
        self.unpriced_calls = 0

    def note_unpriced(self) -> None:
        """Count a call to a model without a known price (its cost is not in `spent_usd`)."""
        with self._lock:
            self.unpriced_calls += 1

    def spent_since(self, spent_usd: float, unpriced_calls: int) -> float | None:
        """What was spent since `spent_usd` and `unpriced_calls` were read; None if unknown."""
        if self.unpriced_calls > unpriced_calls:
            return None
        return self.spent_usd - spent_usd

    def reserve(self, estimate_usd: float) -> Reservation:
        """Claim one call and its worst-case cost, or raise BudgetExceededError."""
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                self.stopped_by = "max_calls"
                raise BudgetExceededError(
                    f"call cap reached: {self.calls} of --promptopt-max-calls={self.max_calls} "
                    "calls made; raise the cap to go on",
                    cap="max_calls",
                )
            if (
                self.max_usd is not None
                and self.spent_usd + self._reserved_usd + estimate_usd > self.max_usd
            ):
                self.stopped_by = "budget_usd"
                raise BudgetExceededError(
                    f"budget reached: ${self.spent_usd:.4f} spent (+${self._reserved_usd:.4f} "
                    f"in flight) of --promptopt-budget-usd={self.max_usd}; the next call could "
                    f"cost up to ${estimate_usd:.4f}",
                    cap="budget_usd",
                )
            self.calls += 1
            self._reserved_usd += estimate_usd
            return Reservation(estimate_usd)

    def settle(self, reservation: Reservation, actual_usd: float | None) -> None:
        """Replace a reservation by the real cost (None: the call failed and cost nothing)."""
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            self._reserved_usd -= reservation.estimate_usd
            self.spent_usd += actual_usd or 0.0

    @property
    def exhausted(self) -> bool:
        """True once a cap has refused a call."""
        return self.stopped_by is not None


class SharedBudget(Budget):
    """A Budget kept in the database, so the caps hold for a whole session across xdist workers.

    Each reservation is one conditional UPDATE of the session's `budget_ledgers` row: it
    succeeds only while the caps leave room, which is atomic on SQLite and PostgreSQL alike.
    """

    def __init__(
        self, db: Database, session_uid: str, max_calls: int | None, max_usd: float | None
    ) -> None:
        """Share the ledger of `session_uid` in `db`, creating it when this is the first process."""
        super().__init__(max_calls, max_usd)
        from pytest_promptopt.storage.repositories import transaction

        self._db = db
        self._uid = session_uid
        with transaction(db) as repos:
            repos.budget_ledgers.open(session_uid)

    def reserve(self, estimate_usd: float) -> Reservation:
        """Claim one call and its worst-case cost in the ledger, or raise BudgetExceededError."""
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            ledgers = repos.budget_ledgers
            claimed = ledgers.reserve(
                self._uid, estimate_usd, max_calls=self.max_calls, max_usd=self.max_usd
            )
            totals = None if claimed else ledgers.totals(self._uid)
        with self._lock:
            if claimed:
                self.calls += 1
                return Reservation(estimate_usd)
            assert totals is not None
            calls, spent, reserved = totals.calls, totals.spent_usd, totals.reserved_usd
            if self.max_calls is not None and calls >= self.max_calls:
                self.stopped_by = "max_calls"
                raise BudgetExceededError(
                    f"call cap reached: {calls} of --promptopt-max-calls={self.max_calls} "
                    "calls made in this session (all workers); raise the cap to go on",
                    cap="max_calls",
                )
            self.stopped_by = "budget_usd"
            raise BudgetExceededError(
                f"budget reached: ${spent:.4f} spent (+${reserved:.4f} in flight) of "
                f"--promptopt-budget-usd={self.max_usd} in this session (all workers); the next "
                f"call could cost up to ${estimate_usd:.4f}",
                cap="budget_usd",
            )

    def settle(self, reservation: Reservation, actual_usd: float | None) -> None:
        """Replace a reservation by the real cost in the ledger."""
        from pytest_promptopt.storage.repositories import transaction

        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            self.spent_usd += actual_usd or 0.0
        with transaction(self._db) as repos:
            repos.budget_ledgers.settle(self._uid, reservation.estimate_usd, actual_usd or 0.0)
