"""The recorder under two threads: rows queued on the loop and flushed from the main thread."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pytest_promptopt.engine.loop import LoopThread
from pytest_promptopt.engine.recorder import Recorder
from pytest_promptopt.evaluation.results import CaseResult, SampleResult
from pytest_promptopt.storage.database import Database
from pytest_promptopt.storage.models import Evaluation
from pytest_promptopt.storage.repositories import EvaluationRepository, RunRepository
from pytest_promptopt.suites.spec import Case, Suite

CASES = 3000
SAMPLES = 4
ROWS = CASES * SAMPLES


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database in tmp_path."""
    database = Database(f"sqlite:///{tmp_path}/db.sqlite")
    database.ensure_schema()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so unguarded interleavings actually happen."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def results(db: Database) -> tuple[Recorder, list[CaseResult]]:
    """A recorder on a new run, and one single-sample result per registered case."""
    with db.session_scope() as s:
        run_id = int(RunRepository(s).create("hammer", "test", {}).id)
    recorder = Recorder(db, run_id)
    suite = Suite(
        name="bot",
        prompt="Be brief.",
        cases=[Case(id=f"c{i}", input="hi") for i in range(CASES)],
    )
    prompt_id = recorder.register_prompt(suite, suite.prompt)
    case_ids = recorder.register_cases(suite, list(suite.cases))
    return recorder, [
        CaseResult(
            suite="bot",
            case_id=c.id,
            prompt_id=prompt_id,
            test_case_id=case_ids[c.id],
            threshold=0.5,
            samples=[
                SampleResult(sample=k, response=f"answer {k} to {c.id}", overall_score=1.0)
                for k in range(SAMPLES)
            ],
        )
        for c in suite.cases
    ]


@pytest.mark.usefixtures("fast_switching")
def test_rows_added_on_the_loop_and_flushed_from_main_are_written_exactly_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, queued = results(db)
    written: list[tuple[int, int]] = []
    real_add_many = EvaluationRepository.add_many

    def counting(self: EvaluationRepository, rows: list[dict[str, Any]]) -> None:
        written.extend((r["test_case_id"], r["sample"]) for r in rows)
        real_add_many(self, rows)

    monkeypatch.setattr(EvaluationRepository, "add_many", counting)

    async def add_all() -> None:
        for n, result in enumerate(queued):
            recorder.add_result(result)
            if n % 7 == 0:
                await asyncio.sleep(0)  # lets the flush timer fire on the loop now and then

    loop = LoopThread()
    try:
        adding = loop.submit(add_all())
        main_flushes = 0
        while not adding.done():
            recorder.flush()
            main_flushes += 1
        adding.result()
        recorder.flush()
    finally:
        loop.stop()
    assert main_flushes > 1
    counts = Counter(written)
    assert len(counts) == ROWS and set(counts.values()) == {1}
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Evaluation)) == ROWS


def test_rows_queued_on_the_loop_wait_for_the_timer_or_a_flush(db: Database) -> None:
    recorder, queued = results(db)
    loop = LoopThread()
    try:
        loop.run(_add(recorder, queued[:10]))  # queued behind the timer, not written yet
        with db.session_scope() as s:
            assert s.scalar(select(func.count()).select_from(Evaluation)) == 0
        recorder.flush()
        with db.session_scope() as s:
            assert s.scalar(select(func.count()).select_from(Evaluation)) == 10 * SAMPLES
    finally:
        loop.stop()


async def _add(recorder: Recorder, queued: list[CaseResult]) -> None:
    """Queue results from inside the loop."""
    for result in queued:
        recorder.add_result(result)
