"""Runs end honestly: a SIGKILLed run becomes `abandoned` and cannot be blessed, one resume at a
time, and xdist workers whose controller died stop. Synchronised on what the loopback server
recorded (its held requests) and on database rows, never on sleeps of a guessed length."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fault_server import FaultServer
from tests.support.reliability import (
    BASE_FLAGS,
    FIGURES,
    OPT_KNOBS,
    OPT_SUITE,
    SUITE,
    env_for,
    popen_pytest,
    pytest_cmd,
    q,
    run_pytest,
    write_project,
)

pytestmark = pytest.mark.slow

POLL_S = 0.05
MAX_POLLS = 1200  # a minute at most for any awaited state: a bound, not a timing


def _until(what: str, condition: Callable[[], bool]) -> int:
    """Poll `condition` until true, at most MAX_POLLS times; return the polls it took.

    Only for what another process does that nothing here is told of (a row it writes, its
    own exit); requests are awaited on the server instead (`_requests_reach`).
    """
    for polls in range(MAX_POLLS):
        if condition():
            return polls
        time.sleep(POLL_S)
    raise AssertionError(f"never happened: {what}")


def _requests_reach(srv: FaultServer, n: int, proc: subprocess.Popen[bytes], what: str) -> None:
    """Wait (no polling) until `srv` has seen `n` requests; fail if `proc` exits before."""
    threading.Thread(target=lambda: (proc.wait(), srv.wake()), daemon=True).start()
    reached = srv.wait_for_requests(n, lambda: proc.poll() is not None, timeout=POLL_S * MAX_POLLS)
    assert reached, f"never happened: {what} (the run exited with {proc.poll()})"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTOPT_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", "--db", str(db), *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def _statuses(db: Path) -> dict[int, str]:
    proc = _cli(db, "runs", "--json")
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r["status"] for r in json.loads(proc.stdout)}


def _sigkill(proc: subprocess.Popen[bytes]) -> None:
    assert proc.poll() is None, "the run ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_sigkilled_run_is_abandoned_and_bless_refuses_it(tmp_path: Path) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer() as srv:
        first = run_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=4")
        assert first.rc == 1, first.out[-2000:]  # the suite has failing cases: run 1 `failed`
        srv.hold()
        before = srv.requests
        proc = popen_pytest(
            tmp_path, srv.base_url, "--promptopt-concurrency=2", "--promptopt-cache=refresh"
        )
        try:
            _requests_reach(srv, before + 2, proc, "the second run's requests")
            _sigkill(proc)
        finally:
            srv.release()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert q(db, "SELECT id, status FROM optimization_runs ORDER BY id") == [
        (1, "failed"), (2, "running")  # as the kill left it
    ]  # fmt: skip
    assert _statuses(db) == {1: "failed", 2: "abandoned"}  # the CLI saw its pid gone
    refused = _cli(db, "bless", "2")
    assert refused.returncode == 1, refused.stdout
    assert "run 2 did not finish (status abandoned" in refused.stderr, refused.stderr
    assert "cases judged" in refused.stderr
    assert _cli(db, "bless").returncode == 1  # `latest` is the abandoned run: refused too
    assert q(db, "SELECT count(*) FROM baselines") == [(0,)]
    blessed = _cli(db, "bless", "1")
    assert blessed.returncode == 0, blessed.stderr
    assert "warning: run 1 failed" in blessed.stderr and "blessed run 1" in blessed.stdout
    diff = _cli(db, "diff", "1", "2")
    assert diff.returncode == 0, diff.stderr
    assert "warning: run 2 did not finish (status abandoned)" in diff.stderr
    FIGURES["abandoned_runs_refused"] += 1


def _kill_optimize_midway(root: Path, srv: FaultServer) -> None:
    """Start an --optimize run, SIGKILL it while its first requests are held."""
    srv.hold()
    before = srv.requests
    proc = popen_pytest(root, srv.base_url, "--promptopt-concurrency=2", *OPT_KNOBS)
    try:
        _requests_reach(srv, before + 1, proc, "the optimize run's first request")
        _sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def pipeline_requests(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The requests of one uninterrupted optimize run (the simulator is deterministic)."""
    root = tmp_path_factory.mktemp("reference")
    write_project(root, OPT_SUITE)
    with FaultServer() as srv:
        run = run_pytest(root, srv.base_url, "--promptopt-concurrency=2", *OPT_KNOBS)
    assert len(run.outcomes) == 3, run.out[-3000:]
    return srv.requests


def test_two_resumes_of_one_run_only_one_runs_the_pipeline(
    tmp_path: Path, pipeline_requests: int
) -> None:
    write_project(tmp_path, OPT_SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer() as srv:
        _kill_optimize_midway(tmp_path, srv)
        killed_at = srv.requests
        out = (tmp_path / "first-resume.out").open("w")
        # a timeout longer than the hold: a held request is waited for, not retried
        resume = ("--promptopt-concurrency=2", "--promptopt-timeout=120", *OPT_KNOBS)
        first = subprocess.Popen(
            pytest_cmd(*BASE_FLAGS, *resume, "--promptopt-resume"),
            cwd=tmp_path, env=env_for(srv.base_url), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            # the first resume has claimed the run (its pid in the row) and waits on the server
            _until(
                "the first resume's claim",
                lambda: (
                    q(db, "SELECT pid, status FROM optimization_runs") == [(first.pid, "running")]
                ),
            )
            second = run_pytest(tmp_path, srv.base_url, *resume, "--promptopt-resume")
            assert first.poll() is None, "the first resume must still hold the run"
        finally:
            srv.release()
        rc = first.wait(timeout=120)
        out.close()
    text = (tmp_path / "first-resume.out").read_text()
    assert rc in (0, 1), text[-3000:]
    assert "resuming optimize run 1" in text
    assert second.rc == pytest.ExitCode.USAGE_ERROR, second.out[-2000:] + second.err[-2000:]
    message = second.err + second.out
    assert f"run 1 is running on host {os.uname().nodename} (pid {first.pid})" in message
    assert "last heartbeat" in message and "resuming optimize run" not in message
    # one pipeline's requests at most (two resumes running it would send about twice that)
    resumed = srv.requests - killed_at
    assert 0 < resumed <= pipeline_requests, (resumed, pipeline_requests)
    assert q(db, "SELECT count(*), max(status) FROM optimization_runs") == [
        (1, "passed" if rc == 0 else "failed")
    ]
    FIGURES["concurrent_resumes_refused"] += 1


def _children(pid: int) -> list[int]:
    """The pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:  # fields: state, ppid, ...
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_workers_stop_when_their_controller_is_killed(tmp_path: Path) -> None:
    write_project(tmp_path, OPT_SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer() as srv:
        srv.hold()  # kept until the workers are gone: a worker that carries on waits here
        proc = popen_pytest(tmp_path, srv.base_url, "-n", "2", "--promptopt-concurrency=2",
                            *OPT_KNOBS)  # fmt: skip
        try:
            _requests_reach(srv, 1, proc, "the pipeline's first request")
            workers = _children(proc.pid)
            assert len(workers) == 2, workers
            _sigkill(proc)  # the controller only: its workers are left behind
            polls = _until("both orphaned workers exited", lambda: not any(map(_alive, workers)))
            FIGURES["orphan_exit_polls"] = max(FIGURES["orphan_exit_polls"], polls)
        finally:
            srv.release()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        at_exit = srv.requests
        # the pipeline did not finish: its reporting stage never completed
        assert q(db, "SELECT count(*) FROM stage_results WHERE stage = 'reporting'") == [(0,)]
        assert _statuses(db) == {1: "abandoned"}
        assert srv.requests == at_exit  # nobody is left to send any
        # what the workers recorded is intact, and the run can be resumed to its end
        resumed = run_pytest(tmp_path, srv.base_url, *OPT_KNOBS, "--promptopt-resume")
    assert resumed.rc in (0, 1) and len(resumed.outcomes) == 3, resumed.out[-3000:]
    assert "resuming optimize run 1" in resumed.out
    assert q(db, "SELECT id, status FROM optimization_runs") == [
        (1, "passed" if resumed.rc == 0 else "failed")
    ]
    assert q(db, "PRAGMA integrity_check") == [("ok",)]
    FIGURES["orphaned_workers_stopped"] += 2
