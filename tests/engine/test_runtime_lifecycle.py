"""The runtime's lifecycle: parts built on use, `database.if_open`, `close`, `dispose`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.settings import Settings
from pytest_promptopt.storage.database import Database
from pytest_promptopt.storage.repositories import EvaluationRepository, RunRepository
from pytest_promptopt.suites.spec import Case, Suite


def runtime_for(tmp: Path) -> Runtime:
    """A simulator runtime on a tmp SQLite database."""
    return Runtime(
        Settings(
            rootdir=tmp,
            db_url=f"sqlite:///{tmp}/db.sqlite",
            model="simulated",
            report_dir=tmp / "reports",
        )
    )


def small_suite() -> Suite:
    """One suite of two cases."""
    return Suite(
        name="bot", prompt="Be brief.", cases=[Case(id="a", input="hi"), Case(id="b", input="bye")]
    )


@pytest.fixture
def disposals(monkeypatch: pytest.MonkeyPatch) -> list[Database]:
    """Every Database.dispose call, in order."""
    calls: list[Database] = []
    real = Database.dispose

    def counting(self: Database) -> None:
        calls.append(self)
        real(self)

    monkeypatch.setattr(Database, "dispose", counting)
    return calls


def test_an_unused_runtime_opens_nothing_and_disposes_quietly(
    tmp_path: Path, disposals: list[Database]
) -> None:
    runtime = runtime_for(tmp_path)
    assert runtime.database.if_open() is None
    runtime.close("passed")
    runtime.dispose()
    runtime.dispose()
    assert runtime.database.if_open() is None
    assert disposals == []
    assert not (tmp_path / "db.sqlite").exists()


def test_if_open_is_the_database_once_something_opened_it(tmp_path: Path) -> None:
    runtime = runtime_for(tmp_path)
    assert runtime.database.if_open() is None
    db = runtime.db
    assert runtime.database.if_open() is db and runtime.db is db
    runtime.dispose()
    assert runtime.database.if_open() is None


def test_dispose_flushes_stops_the_loop_and_disposes_the_database_once(
    tmp_path: Path, disposals: list[Database]
) -> None:
    runtime = runtime_for(tmp_path)
    suite = small_suite()
    state = runtime.suites.state(suite)

    async def queue() -> None:  # on the loop, rows wait for the flush timer
        runtime.recorder.add_result(
            CaseResult(
                suite="bot",
                case_id="a",
                prompt_id=state.prompt_id,
                test_case_id=state.case_ids["a"],
                threshold=0.5,
                samples=[SampleResult(sample=0, response="hello", overall_score=1.0)],
            )
        )

    runtime.loop.run(queue())
    loop, db, run_id = runtime.loop, runtime.db, runtime.run_id
    runtime.dispose()
    runtime.dispose()
    assert disposals == [db]
    assert not loop.loop.is_running() and loop.loop.is_closed()
    with db.session_scope() as s:  # a late user still gets the database (a fresh pool)
        assert [e.model_response for e in EvaluationRepository(s).for_prompt(state.prompt_id)] == [
            "hello"
        ]
        run = RunRepository(s).get(run_id)
        assert run is not None and run.status == "running"  # only close(status) finishes it


def test_close_with_a_status_finishes_the_run_and_dispose_keeps_it(tmp_path: Path) -> None:
    runtime = runtime_for(tmp_path)
    run_id = runtime.run_id
    runtime.close("failed")
    runtime.close("passed")  # closing twice changes nothing
    runtime.dispose()
    again = runtime_for(tmp_path)
    with again.db.session_scope() as s:
        run = RunRepository(s).get(run_id)
        assert run is not None and run.status == "failed" and run.finished_at is not None
    again.dispose()


def test_dispose_waits_for_a_background_open_and_disposes_what_it_opened(
    tmp_path: Path, disposals: list[Database]
) -> None:
    runtime = runtime_for(tmp_path)
    runtime.database.open_in_background()
    runtime.dispose()
    assert len(disposals) == 1 and runtime.database.if_open() is None
    assert (tmp_path / "db.sqlite").is_file()


def test_use_prompt_sets_the_prompt_the_suite_is_judged_with(tmp_path: Path) -> None:
    runtime = runtime_for(tmp_path)
    suite = small_suite()
    try:
        assert runtime.suites.judged_prompt("bot") is None
        runtime.suites.use_prompt("bot", 41, "Be very brief.")
        state = runtime.suites.state(suite)
        assert (state.prompt_id, state.prompt_text) == (41, "Be very brief.")
        assert runtime.suites.judged_prompt("bot") == "Be very brief."
    finally:
        runtime.dispose()


def test_recorded_outcomes_are_kept_by_suite(tmp_path: Path) -> None:
    class Outcome:
        def __init__(self, suite: str, line: str) -> None:
            self.suite, self.line = suite, line

        def describe(self) -> str:
            return self.line

    runtime = runtime_for(tmp_path)
    first, second, redo = Outcome("a", "one"), Outcome("b", "two"), Outcome("a", "again")
    runtime.suites.record_outcome(first)
    runtime.suites.record_outcome(second)
    assert runtime.suites.outcome("a") is first and runtime.suites.outcome("c") is None
    runtime.suites.record_outcome(redo)
    assert runtime.suites.outcomes() == [redo, second]
    assert runtime.database.if_open() is None  # outcomes live in memory only
