"""`--promptopt-batch`: calls through the Message Batches API of the loopback server.

The loopback server's simulator ends a batch on its second poll, so every test polls at least
twice; the timing below keeps the waits to a few milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.errors import LLMError
from pytest_promptopt.llm.batches import BatchCollector, BatchTiming
from pytest_promptopt.llm.clients import ClientPool
from pytest_promptopt.llm.completion import Completion
from pytest_promptopt.llm.pricing import BATCH_DISCOUNT
from pytest_promptopt.llm.requests import build_request, request_hash
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.storage.database import Database
from pytest_promptopt.storage.repositories import transaction
from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.llm import cached_service

MODEL = "claude-haiku-4-5"
FAST = BatchTiming(quiet_s=0.02, max_wait_s=0.2, poll_s=0.01, max_poll_s=0.02, progress_every_s=0)
QUESTIONS = [f"Where is my parcel for order {1000 + i}?" for i in range(5)]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackMessagesServer]:
    """A loopback Messages API that the SDK's real client reaches through its env vars."""
    with LoopbackMessagesServer() as running:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
        yield running


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.ensure_schema()
    yield database
    database.dispose()


def _service(
    db: Database,
    *,
    batch: bool,
    timing: BatchTiming = FAST,
    heard: Callable[[str], None] | None = None,
) -> LLMService:
    """The cached service, its progress lines kept (and handed to `heard` as they come)."""
    pool = ClientPool(timeout_s=5, max_retries=0)
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if heard is not None:
            heard(line)

    collector = BatchCollector(pool, db, timing=timing, progress=progress) if batch else None
    service = cached_service(db, clients=pool, batches=collector)
    service.progress_lines = lines  # type: ignore[attr-defined]
    return service


def _request(question: str) -> dict[str, Any]:
    return build_request(
        model=MODEL,
        system="You are a support assistant.",
        messages=[{"role": "user", "content": question}],
    )


async def _ask(service: LLMService, questions: list[str] = QUESTIONS) -> list[Completion]:
    sends = [
        service.send(_request(q), 0, role="target", label=f"support[q{i}]")
        for i, q in enumerate(questions)
    ]
    return list(await asyncio.gather(*sends))


async def _ask_and_close(service: LLMService) -> list[Completion]:
    try:
        return await _ask(service)
    finally:
        await service.aclose()


def _batch_rows(db: Database) -> list[tuple[str, str, list[str]]]:
    with db.read_scope() as connection:
        rows = connection.exec_driver_sql("SELECT id, status, request_hashes FROM batches")
        return [(i, s, json.loads(h)) for i, s, h in rows]


def test_batch_is_submitted_polled_and_cached(
    server: LoopbackMessagesServer, db: Database, tmp_path: Path
) -> None:
    service = _service(db, batch=True)
    answers = asyncio.run(_ask_and_close(service))

    calls = server.simulator.calls
    assert (calls["batch_create"], calls["batch_results"]) == (1, 1)
    assert calls["batch_retrieve"] >= 2  # in progress at the first poll, ended at the second
    assert service.calls == len(QUESTIONS)
    assert all(a.text and not a.cached for a in answers)
    lines = service.progress_lines  # type: ignore[attr-defined]
    [(batch_id, status, hashes)] = _batch_rows(db)
    assert lines[0] == f"promptopt: batch {batch_id}: {len(QUESTIONS)} requests submitted ({MODEL})"
    assert f"promptopt: batch {batch_id}: 0 processing, {len(QUESTIONS)} done" in lines[-1]
    assert status == "collected"
    assert sorted(hashes) == sorted(a.request_hash for a in answers)

    # A second run is served from the very cache entries a direct call would have written.
    again = _service(db, batch=True)
    cached = asyncio.run(_ask_and_close(again))
    assert again.calls == 0
    assert [c.text for c in cached] == [a.text for a in answers]
    assert all(c.cached for c in cached)
    assert server.simulator.calls["batch_create"] == 1

    # The same answers as direct calls, at the batch discount.
    direct_db = Database(f"sqlite:///{tmp_path / 'direct.sqlite'}")
    direct_db.ensure_schema()
    try:
        direct = asyncio.run(_ask_and_close(_service(direct_db, batch=False)))
    finally:
        direct_db.dispose()
    assert [d.text for d in direct] == [a.text for a in answers]
    assert [d.request_hash for d in direct] == [a.request_hash for a in answers]
    for batched, plain in zip(answers, direct, strict=True):
        assert plain.cost_usd > 0
        assert batched.cost_usd == pytest.approx(plain.cost_usd * BATCH_DISCOUNT)


def test_a_killed_run_resumes_its_batch_instead_of_sending_it_again(
    server: LoopbackMessagesServer, db: Database
) -> None:
    # The first run submits, polls once (still in progress) and is killed while it waits.
    slow = BatchTiming(quiet_s=0.02, max_wait_s=0.2, poll_s=60, max_poll_s=60, progress_every_s=0)
    polled = asyncio.Event()  # the first poll's progress line: the batch is still processing

    def heard(line: str) -> None:
        if "processing" in line:
            polled.set()

    first = _service(db, batch=True, timing=slow, heard=heard)

    async def killed() -> None:
        task = asyncio.ensure_future(_ask(first))
        await asyncio.wait_for(polled.wait(), timeout=60)
        assert server.simulator.calls["batch_retrieve"] == 1  # the next poll is a minute away
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert first.batches is not None
        await first.batches.aclose()  # what dies with the process: the polling

    asyncio.run(killed())
    [(batch_id, status, _)] = _batch_rows(db)
    assert status == "submitted"
    assert server.simulator.calls["target"] == 0  # nothing answered yet

    # The next run finds the batch in the database and collects it: no second create.
    second = _service(db, batch=True)
    answers = asyncio.run(_ask_and_close(second))
    assert server.simulator.calls["batch_create"] == 1
    assert second.batches is not None
    assert (second.batches.submitted, second.batches.resumed) == ([], [batch_id])
    lines = second.progress_lines  # type: ignore[attr-defined]
    assert f"promptopt: batch {batch_id}: resuming it (submitted by an earlier run)" in lines
    assert all(a.text for a in answers)
    assert _batch_rows(db)[0][1] == "collected"
    assert server.simulator.calls["target"] == len(QUESTIONS)


def test_an_errored_batch_item_is_that_call_s_error(
    server: LoopbackMessagesServer, db: Database
) -> None:
    service = _service(db, batch=True)
    bad = {**_request("hello"), "messages": []}  # the API refuses an empty conversation

    async def run() -> tuple[Completion, BaseException | Completion]:
        try:
            good, broken = await asyncio.gather(
                service.send(_request("Is the pan oven-safe?"), 0, role="judge", label="s[ok]"),
                service.send(bad, 0, role="target", label="s[empty]"),
                return_exceptions=True,
            )
        finally:
            await service.aclose()
        assert isinstance(good, Completion)
        return good, broken

    good, broken = asyncio.run(run())
    assert good.text
    assert isinstance(broken, LLMError)
    message = str(broken)
    assert "target call for s[empty] failed in batch msgbatch_sim_" in message
    assert "invalid_request_error" in message
    assert server.simulator.calls["batch_create"] == 1


def test_generator_calls_stay_direct(server: LoopbackMessagesServer, db: Database) -> None:
    service = _service(db, batch=True)

    async def run() -> Completion:
        try:
            return await service.send(_request("Write prompts"), 0, role="generate", label="g")
        finally:
            await service.aclose()

    assert asyncio.run(run()).text
    assert server.simulator.calls["batch_create"] == 0
    with transaction(db) as repos:
        assert repos.batches.unfinished() == []


def test_a_batch_that_cannot_be_recorded_is_still_collected(
    server: LoopbackMessagesServer, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(BatchCollector, "_record", refuse)
    service = _service(db, batch=True)
    answers = asyncio.run(_ask_and_close(service))
    assert all(a.text for a in answers)
    lines = service.progress_lines  # type: ignore[attr-defined]
    assert any(
        "not recorded, a killed run would send it again (database is locked)" in line
        for line in lines
    ), lines


def test_simulated_batch_ids_differ_between_simulators() -> None:
    from pytest_promptopt.simulator.core import Simulator

    body = json.dumps({"requests": [{"custom_id": "a", "params": _request("hi")}]}).encode()
    ids = {
        json.loads(Simulator().respond("POST", "/v1/messages/batches", body)[2])["id"]
        for _ in range(2)
    }
    assert len(ids) == 2  # xdist workers each run one simulator against one database


def test_an_earlier_batch_the_api_no_longer_knows_is_sent_again(
    server: LoopbackMessagesServer, db: Database
) -> None:
    # A batch recorded by an earlier run (say, of another simulator) that this API never saw.
    key = request_hash(_request(QUESTIONS[0]), 0)
    with transaction(db) as repos:
        repos.batches.add("msgbatch_gone", MODEL, [key], run_id=None)
    service = _service(db, batch=True)
    [answer] = asyncio.run(_ask_and_close_one(service, QUESTIONS[0]))
    assert answer.text
    assert answer.request_hash == key
    assert server.simulator.calls["batch_create"] == 1
    lines = service.progress_lines  # type: ignore[attr-defined]
    assert "promptopt: batch msgbatch_gone: not found, sending its 1 requests again" in lines
    with transaction(db) as repos:
        assert repos.batches.unfinished() == []


async def _ask_and_close_one(service: LLMService, question: str) -> list[Completion]:
    try:
        return await _ask(service, [question])
    finally:
        await service.aclose()
