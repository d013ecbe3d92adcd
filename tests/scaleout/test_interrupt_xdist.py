"""Ctrl-C of an xdist session marks its run interrupted, even before any case reported."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scaleout_helpers import judged_suite, subprocess_env

from pytest_promptopt.testing import LoopbackMessagesServer


def test_sigint_before_any_report_marks_the_run_interrupted(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "slow.promptopt.yaml").write_text(judged_suite("slow", 20))
    with LoopbackMessagesServer(latency_s=2.0) as server:
        env = subprocess_env()
        env.update(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY="test-key")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
             "--promptopt-model=claude-haiku-4-5", "--promptopt-cache=off"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while server.request_count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.request_count > 0, "no model call was made"
        os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole group
        out, _ = proc.communicate(timeout=60)
    con = sqlite3.connect(tmp_path / ".promptopt" / "promptopt.db")
    runs = con.execute("SELECT status, finished_at IS NOT NULL FROM optimization_runs").fetchall()
    con.close()
    assert runs == [("interrupted", 1)], out[-2000:]
