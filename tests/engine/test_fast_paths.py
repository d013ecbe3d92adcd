"""The speed-ups keep results exact: prefetched request hashes, the paused collector."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

import pytest_promptopt.llm.service as service_module
from pytest_promptopt.engine.runtime import Runtime
from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.settings import Settings
from pytest_promptopt.suites.spec import Suite
from tests.support.optimize import make_suite


def cached_runtime(tmp: Path) -> Runtime:
    """A simulator runtime on a tmp database with the response cache on."""
    return Runtime(
        Settings(
            rootdir=tmp,
            db_url=f"sqlite:///{tmp}/db.sqlite",
            model="simulated",
            cache_mode="use",
            report_dir=tmp / "reports",
        )
    )


def judge_all(runtime: Runtime, suite: Suite) -> dict[str, tuple[float, str]]:
    """Score and answer per case, judged through the runtime's scheduler."""
    try:
        runtime.scheduler.schedule([(suite, c) for c in suite.cases])
        return {
            c.id: (r.score, r.samples[0].response)
            for c in suite.cases
            for r in [runtime.scheduler.result(suite, c)]
        }
    finally:
        runtime.close("passed")


def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count request_hash calls made by the evaluator and the model service (whose `key_of`
    the evaluator's prefetch uses)."""
    calls: list[int] = []
    real = service_module.request_hash

    def counting(request: dict[str, Any], sample: int) -> str:
        calls.append(sample)
        return real(request, sample)

    monkeypatch.setattr(service_module, "request_hash", counting)
    return calls


def test_a_cached_run_hashes_each_request_once_and_matches_the_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = make_suite()
    first = judge_all(cached_runtime(tmp_path), suite)
    hashes = count_hashes(monkeypatch)
    again = cached_runtime(tmp_path)
    second = judge_all(again, suite)
    assert second == first
    assert again.llm.calls == 0 and again.llm.cache_hits == 2 * len(suite.cases)
    assert len(hashes) == 2 * len(suite.cases)  # one target and one judge hash per case


def test_prefetched_hashes_are_not_used_for_another_prompt_or_case_object(
    tmp_path: Path,
) -> None:
    suite = make_suite()
    judge_all(cached_runtime(tmp_path), suite)  # caches the suite's own prompt
    runtime = cached_runtime(tmp_path)
    case = suite.cases[0]
    evaluator = runtime.evaluator
    try:
        # Prefetched for the cached prompt, then evaluated with another prompt: a miss.
        evaluator.prefetch([(suite, suite.prompt, case)])
        other = runtime.loop.run(evaluator.evaluate(suite, "Answer in French.", case))
        assert other.error is None and runtime.llm.calls == 2
        # Prefetched for one case object, then evaluated with an equal-id different case.
        evaluator.prefetch([(suite, suite.prompt, case)])
        changed = case.model_copy(update={"input": "Something else entirely?"})
        runtime.loop.run(evaluator.evaluate(suite, suite.prompt, changed))
        assert runtime.llm.calls == 4
        # And for the very objects it was prefetched for: served from the cache.
        runtime.loop.run(evaluator.evaluate(suite, suite.prompt, case))
        assert runtime.llm.calls == 4
    finally:
        runtime.close("passed")


def test_long_lived_imports_pause_the_collector_and_freeze_what_they_import() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with long_lived_imports():
            assert not gc.isenabled()
            with long_lived_imports():  # nested (the loop thread importing the SDK meanwhile)
                assert not gc.isenabled()
                sys.modules["_promptopt_fake_heavy_module"] = types.ModuleType("fake")
            assert not gc.isenabled()  # only the last one to finish resumes the collector
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen
    finally:
        sys.modules.pop("_promptopt_fake_heavy_module", None)
        gc.unfreeze()


def test_long_lived_imports_freeze_nothing_when_nothing_new_was_imported() -> None:
    frozen = gc.get_freeze_count()
    with long_lived_imports():
        import json  # noqa: F401 (already loaded)
    assert gc.get_freeze_count() == frozen and gc.isenabled()


def test_long_lived_imports_resume_the_collector_when_the_import_fails() -> None:
    with pytest.raises(ModuleNotFoundError), long_lived_imports():
        import _promptopt_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()


def test_long_lived_imports_leave_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with long_lived_imports():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_long_lived_imports_from_two_threads_resume_the_collector_once_both_end() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with long_lived_imports():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    try:
        thread.start()
        assert inside.wait(5)
        with long_lived_imports():
            pass
        assert not gc.isenabled()  # the other thread is still importing
        release.set()
        thread.join(5)
        assert gc.isenabled()
    finally:
        release.set()
        gc.unfreeze()


def test_the_loopback_server_sends_answers_without_waiting_for_delayed_acks() -> None:
    """Nagle's algorithm would hold each body until the client's delayed ACK (40 ms on Linux)."""
    from pytest_promptopt.testing.loopback import _Handler

    assert _Handler.disable_nagle_algorithm is True


def test_a_database_opened_in_the_background_is_the_one_used(tmp_path: Path) -> None:
    runtime = cached_runtime(tmp_path)
    runtime.database.open_in_background()
    runtime.database.await_background()
    opened = runtime.database.if_open()
    assert opened is not None  # opened by the thread, not again by the caller
    assert runtime.db is opened
    assert runtime.run.id_if_created() is None
    runtime.dispose()


def test_a_background_open_that_fails_is_reported_where_the_database_is_used(
    tmp_path: Path,
) -> None:
    (tmp_path / "db.sqlite").write_text("not a database, just text " * 100)
    runtime = cached_runtime(tmp_path)
    runtime.database.open_in_background()
    runtime.database.await_background()  # the thread swallowed the failure...
    with pytest.raises(Exception, match=r"db\.sqlite"):
        runtime.run.id_if_created()  # ...and the real use reports it, naming the file


def test_the_sdk_import_ahead_of_time_builds_no_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients are built at first use, so they see the environment as it is then."""
    from pytest_promptopt.testing import LoopbackMessagesServer

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens here
    suite = make_suite()
    runtime = Runtime(
        Settings(
            rootdir=tmp_path,
            db_url=f"sqlite:///{tmp_path}/db.sqlite",
            model="claude-haiku-4-5",
            cache_mode="off",
            max_retries=0,
            report_dir=tmp_path / "reports",
        )
    )
    try:
        runtime.warm_up()
        runtime.loop.run(asyncio.sleep(0))  # the import ran before this on the loop
        assert "anthropic" in sys.modules
        with LoopbackMessagesServer() as server:
            monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
            result = runtime.scheduler.result(suite, suite.cases[0])
            assert result.error is None and server.request_count == 2
    finally:
        runtime.close("passed")


def test_prefetched_hashes_of_samples_that_never_run_are_dropped(tmp_path: Path) -> None:
    suite = make_suite()
    judge_all(cached_runtime(tmp_path), suite)
    runtime = cached_runtime(tmp_path)
    evaluator = runtime.evaluator
    case = suite.cases[0].model_copy(update={"repeats": 3})
    try:
        evaluator.prefetch([(suite, suite.prompt, case)])
        assert len(evaluator.prefetched.keys) == 3
        runtime.loop.run(evaluator.evaluate(suite, suite.prompt, case, samples=1))
        assert evaluator.prefetched.keys == {}
    finally:
        runtime.close("passed")
