"""Ctrl-C of an xdist session marks its run interrupted, on SQLite and on PostgreSQL.

The controller judges nothing and its workers die without sending their run id, so it must find
the run by session uid, whatever the database (it once probed for the SQLite file).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.fault_server import FaultServer
from tests.support.scaleout import judged_suite, subprocess_env


def _interrupt_mid_run(tmp_path: Path, *extra: str) -> str:
    """Start `-n 2` against a slow server, send Ctrl-C once calls are in flight; the output."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "slow.promptopt.yaml").write_text(judged_suite("slow", 20))
    with FaultServer(latency_s=2.0) as server:  # no faults: a slow server that counts arrivals
        env = subprocess_env()
        env.update(ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_API_KEY="test-key")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
             "--promptopt-model=claude-haiku-4-5", "--promptopt-cache=off", *extra],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=lambda: (proc.wait(), server.wake()), daemon=True).start()
        in_flight = server.wait_for_requests(1, lambda: proc.poll() is not None, timeout=60)
        assert in_flight and proc.poll() is None, "no model call was made"
        os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole group
        out, _ = proc.communicate(timeout=60)
    return out


def test_sigint_before_any_report_marks_the_run_interrupted(tmp_path: Path) -> None:
    out = _interrupt_mid_run(tmp_path)
    con = sqlite3.connect(tmp_path / ".promptopt" / "promptopt.db")
    runs = con.execute("SELECT status, finished_at IS NOT NULL FROM optimization_runs").fetchall()
    con.close()
    assert runs == [("interrupted", 1)], out[-2000:]


@pytest.mark.postgres
def test_sigint_of_an_xdist_run_on_postgres_marks_it_interrupted(
    tmp_path: Path, pg_url: str
) -> None:
    out = _interrupt_mid_run(tmp_path, f"--promptopt-db={pg_url}")
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            stmt = text("SELECT status, finished_at IS NOT NULL FROM optimization_runs")
            runs = [tuple(r) for r in conn.execute(stmt)]
    finally:
        engine.dispose()
    assert runs == [("interrupted", True)], out[-2000:]
