"""BudgetLedgerRepository: a ledger per pytest session; reservations only while caps leave room."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import LedgerTotals


def test_open_creates_one_empty_ledger_per_session(db: Database) -> None:
    with transaction(db) as repos:
        assert repos.budget_ledgers.totals("s1") is None
        repos.budget_ledgers.open("s1")
    with transaction(db) as repos:
        assert repos.budget_ledgers.reserve("s1", 0.25, max_calls=None, max_usd=None)
        repos.budget_ledgers.open("s1")  # a second worker opening it keeps the figures
        repos.budget_ledgers.open("s2")
    with transaction(db) as repos:
        assert repos.budget_ledgers.totals("s1") == LedgerTotals(1, 0.0, 0.25)
        assert repos.budget_ledgers.totals("s2") == LedgerTotals(0, 0.0, 0.0)


def test_reserve_stops_at_the_call_cap(db: Database) -> None:
    with transaction(db) as repos:
        repos.budget_ledgers.open("s")
    claims = []
    for _ in range(4):
        with transaction(db) as repos:
            claims.append(repos.budget_ledgers.reserve("s", 0.1, max_calls=3, max_usd=None))
    assert claims == [True, True, True, False]
    with transaction(db) as repos:
        totals = repos.budget_ledgers.totals("s")
    assert totals is not None and totals.calls == 3
    assert totals.reserved_usd == pytest.approx(0.3) and totals.spent_usd == 0.0


def test_reserve_counts_dollars_in_flight_and_settle_gives_the_difference_back(
    db: Database,
) -> None:
    with transaction(db) as repos:
        ledgers = repos.budget_ledgers
        ledgers.open("s")
        assert ledgers.reserve("s", 0.6, max_calls=None, max_usd=1.0)
        # 0.6 in flight + 0.6 would pass the cap of 1.0.
        assert not ledgers.reserve("s", 0.6, max_calls=None, max_usd=1.0)
        ledgers.settle("s", 0.6, 0.2)
    with transaction(db) as repos:
        ledgers = repos.budget_ledgers
        totals = ledgers.totals("s")
        assert totals is not None
        assert totals.spent_usd == pytest.approx(0.2) and totals.reserved_usd == pytest.approx(0)
        assert ledgers.reserve("s", 0.6, max_calls=None, max_usd=1.0)  # 0.2 + 0.6 fits
        assert not ledgers.reserve("s", 0.3, max_calls=None, max_usd=1.0)  # 0.2 + 0.6 + 0.3
        assert ledgers.reserve("s", 0.2, max_calls=None, max_usd=1.0)  # exactly at the cap
        # The refused reservations changed nothing; a settle of a failed call costs nothing.
        ledgers.settle("s", 0.2, 0.0)
    with transaction(db) as repos:
        totals = repos.budget_ledgers.totals("s")
    assert totals is not None and totals.calls == 3
    assert totals.spent_usd == pytest.approx(0.2) and totals.reserved_usd == pytest.approx(0.6)


def test_sessions_have_separate_ledgers_and_an_unopened_one_claims_nothing(db: Database) -> None:
    with transaction(db) as repos:
        ledgers = repos.budget_ledgers
        ledgers.open("a")
        ledgers.open("b")
        assert ledgers.reserve("a", 0.0, max_calls=1, max_usd=None)
        assert not ledgers.reserve("a", 0.0, max_calls=1, max_usd=None)
        assert ledgers.reserve("b", 0.0, max_calls=1, max_usd=None)
        assert not ledgers.reserve("never-opened", 0.0, max_calls=None, max_usd=None)
        assert ledgers.totals("never-opened") is None


def _reserve_worker(database: Database, attempts: int) -> int:
    """In a forked child: try `attempts` one-call reservations under a cap of 25; count the wins."""
    won = 0
    for _ in range(attempts):
        with transaction(database) as repos:
            won += repos.budget_ledgers.reserve("race", 0.01, max_calls=25, max_usd=None)
    return won


def test_reservations_from_several_processes_stop_exactly_at_the_cap(
    db: Database, run_forked: Callable[..., list[Any]]
) -> None:
    with transaction(db) as repos:
        repos.budget_ledgers.open("race")
    wins = run_forked(_reserve_worker, [(db, 10)] * 4)
    assert sum(wins) == 25
    with transaction(db) as repos:
        totals = repos.budget_ledgers.totals("race")
    assert totals is not None and totals.calls == 25
