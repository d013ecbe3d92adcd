"""RunRepository: create, look up, finish, reopen, the suites of a run and the run to resume."""

from __future__ import annotations

from datetime import timedelta, timezone

from pytest_promptopt.storage import Database, RunRepository, transaction


def test_run_repository(db: Database) -> None:
    with db.session_scope() as s:
        runs = RunRepository(s)
        first = runs.create("uid-1", "test", {"model": "m"})
        again = runs.create("uid-1", "optimize", {"other": True})
        assert again.id == first.id
        assert again.mode == "test" and again.settings == {"model": "m"}
        assert first.status == "running" and first.finished_at is None
        assert first.started_at.tzinfo is not None
        second = runs.create("uid-2", "optimize", {})
        second.started_at = first.started_at + timedelta(seconds=5)
    with db.session_scope() as s:
        runs = RunRepository(s)
        assert runs.get(first.id) is not None and runs.get(12345) is None
        assert runs.by_uid("uid-2") is not None and runs.by_uid("nope") is None
        assert runs.latest() is not None and runs.latest().id == second.id  # type: ignore[union-attr]
        assert runs.latest(mode="test").id == first.id  # type: ignore[union-attr]
        assert runs.latest(statuses=["passed"]) is None
        finished = runs.finish(first.id, "passed", {"cases": 3})
        assert finished.status == "passed" and finished.summary == {"cases": 3}
        assert finished.finished_at is not None
        assert finished.finished_at.tzinfo == timezone.utc
        runs.finish(second.id, "interrupted")
    with db.session_scope() as s:
        runs = RunRepository(s)
        assert runs.get(second.id).summary is None  # type: ignore[union-attr]
        assert runs.latest(statuses=["passed", "failed"]).id == first.id  # type: ignore[union-attr]
        assert [r.session_uid for r in runs.list_recent()] == ["uid-2", "uid-1"]
        assert [r.session_uid for r in runs.list_recent(limit=1)] == ["uid-2"]
        stored = runs.get(first.id)
        assert stored is not None and stored.finished_at is not None
        assert stored.finished_at.tzinfo == timezone.utc


def test_reopen_hands_a_finished_run_to_a_new_session(db: Database) -> None:
    with transaction(db) as repos:
        run = repos.runs.create("uid-old", "optimize", {})
        repos.runs.finish(run.id, "interrupted", {"kept": True})
    with transaction(db) as repos:
        repos.runs.reopen(run.id, "uid-new")
    with transaction(db) as repos:
        assert repos.runs.by_uid("uid-old") is None
        reopened = repos.runs.by_uid("uid-new")
        assert reopened is not None and reopened.id == run.id
        assert reopened.status == "running" and reopened.finished_at is None
        assert reopened.summary == {"kept": True}


def test_suites_are_those_with_prompts_or_cases_in_the_run(db: Database) -> None:
    with transaction(db) as repos:
        run = repos.runs.create("uid-s", "test", {})
        other = repos.runs.create("uid-other", "test", {})
        repos.prompts.add(run.id, "zeta", "p", stage="given")
        repos.prompts.add(run.id, "alpha", "p", stage="given")
        repos.test_cases.upsert_many(run.id, "beta", [{"case_key": "a", "input_message": "x"}])
        repos.test_cases.upsert_many(run.id, "alpha", [{"case_key": "a", "input_message": "x"}])
        repos.prompts.add(other.id, "elsewhere", "p", stage="given")
    with transaction(db) as repos:
        assert repos.runs.suites(run.id) == ["alpha", "beta", "zeta"]
        assert repos.runs.suites(other.id) == ["elsewhere"]
        assert repos.runs.suites(9999) == []


def test_latest_resumable_picks_the_newest_unfinished_optimize_run(db: Database) -> None:
    with transaction(db) as repos:
        assert repos.runs.latest_resumable(exclude_uid="me") is None
        runs = repos.runs
        base = runs.create("interrupted", "optimize", {})
        runs.finish(base.id, "interrupted")
        passed = runs.create("passed", "optimize", {})
        passed.started_at = base.started_at + timedelta(minutes=1)
        stage, _ = repos.stage_results.start(passed.id, "s", "evaluate_quick")
        repos.stage_results.complete(stage.id, {})
        runs.finish(passed.id, "passed")
        test_mode = runs.create("test-mode", "test", {})
        test_mode.started_at = base.started_at + timedelta(minutes=2)
        runs.finish(test_mode.id, "interrupted")
    with transaction(db) as repos:
        # A passed run whose stages all completed, and runs of test mode, are not resumable.
        assert repos.runs.latest_resumable(exclude_uid="me") == base.id
        running = repos.runs.create("me", "optimize", {})
        running.started_at = base.started_at + timedelta(minutes=3)
    with transaction(db) as repos:
        # The asking session's own run never counts, even when it is the newest running one.
        assert repos.runs.latest_resumable(exclude_uid="me") == base.id
        assert repos.runs.latest_resumable(exclude_uid="someone else") == running.id


def test_latest_resumable_finds_a_failed_run_with_a_stage_left_over(db: Database) -> None:
    with transaction(db) as repos:
        old = repos.runs.create("old", "optimize", {})
        repos.runs.finish(old.id, "interrupted")
        capped = repos.runs.create("capped", "optimize", {})
        capped.started_at = old.started_at + timedelta(minutes=1)
        done, _ = repos.stage_results.start(capped.id, "s", "generate_prompts")
        repos.stage_results.complete(done.id, {})
        left, _ = repos.stage_results.start(capped.id, "s", "evaluate_quick")
        repos.stage_results.complete(left.id, {}, status="budget_exhausted")
        repos.runs.finish(capped.id, "failed")
    with transaction(db) as repos:
        assert repos.runs.latest_resumable(exclude_uid="me") == capped.id
        stage = repos.stage_results.get(capped.id, "s", "evaluate_quick")
        assert stage is not None
        repos.stage_results.complete(stage.id, {})
    with transaction(db) as repos:
        # Every stage completed now: the failed run is finished for good; the older one is next.
        assert repos.runs.latest_resumable(exclude_uid="me") == old.id
