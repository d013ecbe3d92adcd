"""Budget caps: calls, dollars reserved before sending, shared by workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_promptopt.errors import BudgetExceededError
from pytest_promptopt.llm.budget import Budget


def test_budget_caps_calls_exactly() -> None:
    budget = Budget(max_calls=3)
    for _ in range(3):
        budget.settle(budget.reserve(0.01), 0.01)
    with pytest.raises(BudgetExceededError) as info:
        budget.reserve(0.01)
    assert info.value.cap == "max_calls" and budget.calls == 3 and budget.exhausted


def test_budget_reserves_worst_case_before_sending() -> None:
    budget = Budget(max_usd=1.0)
    first = budget.reserve(0.6)
    with pytest.raises(BudgetExceededError, match="in flight"):
        budget.reserve(0.6)  # would exceed the cap while the first call is still in flight
    budget.settle(first, 0.1)
    budget.reserve(0.6)  # real cost was lower, so the room is back
    assert budget.spent_usd == pytest.approx(0.1)


def test_shared_budget_caps_a_session_across_workers(tmp_path: Path) -> None:
    from pytest_promptopt.llm.budget import SharedBudget
    from pytest_promptopt.storage.database import Database

    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.ensure_schema()
    worker_a = SharedBudget(db, "session-1", max_calls=5, max_usd=None)
    worker_b = SharedBudget(db, "session-1", max_calls=5, max_usd=None)
    other_session = SharedBudget(db, "session-2", max_calls=5, max_usd=None)
    for budget in (worker_a, worker_b, worker_a, worker_b, worker_a):
        budget.settle(budget.reserve(0.01), 0.01)
    with pytest.raises(BudgetExceededError, match="all workers"):
        worker_b.reserve(0.01)
    assert (worker_a.calls, worker_b.calls) == (3, 2) and worker_b.stopped_by == "max_calls"
    other_session.reserve(0.01)  # another session has its own ledger


def test_shared_budget_usd_counts_reservations_in_flight(tmp_path: Path) -> None:
    from pytest_promptopt.llm.budget import SharedBudget
    from pytest_promptopt.storage.database import Database

    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.ensure_schema()
    a = SharedBudget(db, "s", max_calls=None, max_usd=1.0)
    b = SharedBudget(db, "s", max_calls=None, max_usd=1.0)
    first = a.reserve(0.6)
    with pytest.raises(BudgetExceededError, match="in flight"):
        b.reserve(0.6)
    a.settle(first, 0.2)
    b.reserve(0.6)
    assert b.stopped_by == "budget_usd"  # set by the refusal above, kept for the summary
