"""SIGKILL while a `--promptopt-batch` run waits for its batch: the next run collects that batch."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.reliability import CASES, SUITE, popen_pytest, q, run_pytest, write_project

pytestmark = pytest.mark.slow


class AnsweringServer(LoopbackMessagesServer):
    """The loopback server, waking the test's waits each time it has answered a request."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = threading.Condition()

    def handle(self, request: Any) -> None:
        """Answer as the loopback server does, then wake the waiters."""
        try:
            super().handle(request)
        finally:
            self.wake()

    def wake(self) -> None:
        """Make `wait_until` check its condition again."""
        with self.answered:
            self.answered.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Block until `condition()` holds after an answer or a `wake` (False after timeout)."""
        with self.answered:
            return self.answered.wait_for(condition, timeout_s)


def test_a_killed_batch_run_resumes_its_batch(tmp_path: Path) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with AnsweringServer() as server:
        server.simulator.batches.polls_to_end = 10**6  # the first run's batch never ends
        proc = popen_pytest(tmp_path, server.base_url, "--promptopt-batch")
        try:
            threading.Thread(target=lambda: (proc.wait(), server.wake()), daemon=True).start()
            polled = server.wait_until(
                lambda: server.simulator.calls["batch_retrieve"] > 0 or proc.poll() is not None,
                timeout_s=120,
            )
            assert polled and proc.poll() is None, "the run ended before its batch was polled"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        first = q(db, "SELECT id, status, json_array_length(request_hashes) FROM batches")
        # The answers of every case, in the batch(es) recorded before the kill.
        assert {status for _, status, _ in first} == {"submitted"}
        assert sum(size for _, _, size in first) == CASES
        assert server.simulator.calls["target"] == 0

        server.simulator.batches.polls_to_end = 1
        rerun = run_pytest(tmp_path, server.base_url, "--promptopt-batch")
        assert len(rerun.outcomes) == CASES, rerun.out[-3000:]
        for batch_id, _, _ in first:
            assert f"promptopt: batch {batch_id}: resuming it" in rerun.err
        # Every answer came from the killed run's batches: none was sent again.
        assert server.simulator.calls["target"] == CASES
        assert server.simulator.calls["batch_create"] > len(first)  # the judge calls' batch
        assert {s for (s,) in q(db, "SELECT status FROM batches")} == {"collected"}
