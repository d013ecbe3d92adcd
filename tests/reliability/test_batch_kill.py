"""SIGKILL while a `--promptopt-batch` run waits for its batch: the next run collects that batch."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.reliability import CASES, SUITE, popen_pytest, q, run_pytest, write_project

pytestmark = pytest.mark.slow


def test_a_killed_batch_run_resumes_its_batch(tmp_path: Path) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with LoopbackMessagesServer() as server:
        server.simulator.batches.polls_to_end = 10**6  # the first run's batch never ends
        proc = popen_pytest(tmp_path, server.base_url, "--promptopt-batch")
        try:
            deadline = time.monotonic() + 120
            while server.simulator.calls["batch_retrieve"] == 0 and time.monotonic() < deadline:
                assert proc.poll() is None, "the run ended before its batch was polled"
                time.sleep(0.02)
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
