"""The Repositories bundle and `transaction(db)`: one session, committed or rolled back whole."""

from __future__ import annotations

import pytest

from pytest_promptopt.storage import Database, Repositories, RunRepository, transaction


def test_every_repository_shares_the_transactions_session(db: Database) -> None:
    with transaction(db) as repos:
        assert isinstance(repos, Repositories)
        assert isinstance(repos.runs, RunRepository) and repos.runs is repos.runs
        members = [
            repos.runs, repos.prompts, repos.test_cases, repos.evaluations, repos.stage_results,
            repos.weaknesses, repos.llm_calls, repos.budget_ledgers, repos.pipeline_claims,
        ]  # fmt: skip
        assert {id(m.session) for m in members} == {id(repos.session)}
        run = repos.runs.create("uid-b", "test", {})
        # Written through one repository, read through another in the same transaction.
        repos.prompts.add(run.id, "s", "p", stage="given")
        assert repos.runs.suites(run.id) == ["s"]


def test_transaction_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with transaction(db) as repos:
        repos.runs.create("kept", "test", {})
    with pytest.raises(RuntimeError, match="boom"), transaction(db) as repos:
        repos.runs.create("dropped", "test", {})
        raise RuntimeError("boom")
    with transaction(db) as repos:
        assert repos.runs.by_uid("kept") is not None
        assert repos.runs.by_uid("dropped") is None
