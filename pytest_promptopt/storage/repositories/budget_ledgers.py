"""Rows of `budget_ledgers`: one pytest session's calls and dollars, shared by its xdist workers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import BudgetLedger
from pytest_promptopt.storage.repositories.base import Repository


@dataclass(frozen=True)
class LedgerTotals:
    """What a ledger holds: calls claimed, dollars spent and dollars reserved by calls in flight."""

    calls: int
    spent_usd: float
    reserved_usd: float


class BudgetLedgerRepository(Repository):
    """Rows of `budget_ledgers`; every change is one atomic UPDATE, on SQLite and PostgreSQL."""

    def open(self, session_uid: str) -> None:
        """Create the session's empty ledger unless a worker already did."""
        row = {"session_uid": session_uid, "calls": 0, "spent_usd": 0.0, "reserved_usd": 0.0}
        insert_ignore(self.session, BudgetLedger, [row], ["session_uid"])

    def reserve(
        self,
        session_uid: str,
        estimate_usd: float,
        *,
        max_calls: int | None,
        max_usd: float | None,
    ) -> bool:
        """Claim one call and `estimate_usd` when the caps leave room; True when it was claimed."""
        ledger = BudgetLedger
        stmt = update(ledger).where(ledger.session_uid == session_uid)
        if max_calls is not None:
            stmt = stmt.where(ledger.calls < max_calls)
        if max_usd is not None:
            stmt = stmt.where(ledger.spent_usd + ledger.reserved_usd + estimate_usd <= max_usd)
        stmt = stmt.values(calls=ledger.calls + 1, reserved_usd=ledger.reserved_usd + estimate_usd)
        return bool(self.session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]

    def settle(self, session_uid: str, estimate_usd: float, actual_usd: float) -> None:
        """Release a claim's reservation of `estimate_usd` and add what the call really cost."""
        ledger = BudgetLedger
        stmt = (
            update(ledger)
            .where(ledger.session_uid == session_uid)
            .values(
                reserved_usd=ledger.reserved_usd - estimate_usd,
                spent_usd=ledger.spent_usd + actual_usd,
            )
        )
        self.session.execute(stmt)

    def totals(self, session_uid: str) -> LedgerTotals | None:
        """The ledger's figures now, or None when the session has no ledger."""
        row = self.session.get(BudgetLedger, session_uid)
        if row is None:
            return None
        return LedgerTotals(row.calls, row.spent_usd, row.reserved_usd)
