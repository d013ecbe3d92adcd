"""SIGKILL at seeded points of a plain and an --optimize run; SIGINT marks the run interrupted."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from pytest_promptopt.llm.send_options import with_prompt_cache
from tests.support.fault_server import FaultServer, canonical_body
from tests.support.reliability import (
    CASES,
    FIGURES,
    OPT_KNOBS,
    OPT_SUITE,
    SUITE,
    popen_pytest,
    q,
    run_pytest,
    write_project,
)

pytestmark = pytest.mark.slow

CONCURRENCY = 2
LATENCY = 0.05
# Kill points counted in requests the server has seen (synchronised on what the server
# recorded, not on a wall-clock delay that load stretches): the plain run makes 2 * CASES.
PLAIN_KILLS = [random.Random(2024).randint(1, 2 * CASES - 2) for _ in range(6)]
# For the optimize run: a share of the requests its uninterrupted run made.
OPT_KILLS = [random.Random(77).uniform(0.05, 0.9) for _ in range(4)]
# Sends whose answer never became a cache entry: the calls in flight when the kill lands (at
# most CONCURRENCY) and answers received but not yet written (written at the end of the event
# loop tick they arrive in: at most one per slot as well).
WASTE_BOUND = CONCURRENCY * 2


def _wake_on_exit(proc: subprocess.Popen[bytes], srv: FaultServer) -> None:
    """Wake the server's waiters when `proc` exits (so they stop waiting for requests)."""
    threading.Thread(target=lambda: (proc.wait(), srv.wake()), daemon=True).start()


def _kill_after(root: Path, srv: FaultServer, requests: int, *args: str) -> bool:
    """Start pytest, SIGKILL it when the server has seen `requests`; True if it was killed."""
    proc = popen_pytest(root, srv.base_url, f"--promptopt-concurrency={CONCURRENCY}", *args)
    _wake_on_exit(proc, srv)
    try:
        reached = srv.wait_for_requests(requests, lambda: proc.poll() is not None, timeout=120)
        killed = reached and proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wasted(db: Path, srv: FaultServer) -> int:
    """Sends (both runs) whose answer is not a distinct cache entry: repeated or lost calls.

    Samples of one request send one body and are told apart by the cache key only, so a body
    sent k times for k samples is k entries, not k - 1 repeats.
    """
    recorded = Counter(
        canonical_body(json.dumps(with_prompt_cache(json.loads(request))))
        for (request,) in q(db, "SELECT request FROM llm_calls")
    )
    return sum(max(0, sent - recorded[body]) for body, sent in srv.canonical.items())


def _integrity(db: Path) -> None:
    assert db.is_file(), db
    assert q(db, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize("kill_at", PLAIN_KILLS, ids=[f"kill{i}" for i in range(6)])
def test_sigkill_plain_run_then_rerun(tmp_path: Path, kill_at: int) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer(latency_s=LATENCY) as srv:
        killed = _kill_after(tmp_path, srv, kill_at)
        in_first = srv.requests
        _integrity(db)
        run = run_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=8")
    FIGURES["kills"] += int(killed)
    assert len(run.outcomes) == CASES and "ERROR" not in run.outcomes.values(), run.out[-3000:]
    _integrity(db)
    repeats = _wasted(db, srv)
    assert repeats <= WASTE_BOUND, (repeats, in_first)
    FIGURES["repeated_calls_after_kill"] += repeats
    statuses = [s for (s,) in q(db, "SELECT status FROM optimization_runs ORDER BY id")]
    assert statuses[-1] == "failed"
    assert (
        q(db, "SELECT count(*), count(DISTINCT request_hash) FROM llm_calls")[0][0]
        == (q(db, "SELECT count(DISTINCT request_hash) FROM llm_calls")[0][0])
    )
    FIGURES["clean_reruns"] += 1


def _best_prompt(db: Path) -> str:
    """The prompt text the last run's reporting stage chose."""
    (summary,) = q(
        db,
        "SELECT summary FROM stage_results WHERE stage = 'reporting' "
        "AND run_id = (SELECT max(id) FROM optimization_runs)",
    )[0]
    best_id = json.loads(summary)["best_prompt_id"]
    return str(q(db, "SELECT prompt_text FROM prompts WHERE id = ?", (best_id,))[0][0])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """The best prompt of the same optimize run, never killed (the simulator is deterministic),
    and how many requests it made."""
    root = tmp_path_factory.mktemp("reference")
    write_project(root, OPT_SUITE)
    with FaultServer(latency_s=LATENCY) as srv:
        run = run_pytest(root, srv.base_url, "--promptopt-concurrency=8", *OPT_KNOBS)
    assert len(run.outcomes) == 3, run.out[-3000:]
    return _best_prompt(root / ".promptopt" / "promptopt.db"), srv.requests


@pytest.mark.parametrize("share", OPT_KILLS, ids=[f"kill{i}" for i in range(4)])
def test_sigkill_optimize_run_then_resume(
    tmp_path: Path, share: float, uninterrupted: tuple[str, int]
) -> None:
    uninterrupted_best, requests = uninterrupted
    write_project(tmp_path, OPT_SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer(latency_s=LATENCY) as srv:
        killed = _kill_after(tmp_path, srv, max(1, int(share * requests)), *OPT_KNOBS)
        _integrity(db)
        runs = q(db, "SELECT id, status, mode FROM optimization_runs")
        resume = ("--promptopt-resume",) if killed and runs else ()
        run = run_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=8", *OPT_KNOBS, *resume)
    FIGURES["kills"] += int(killed)
    assert len(run.outcomes) == 3 and "ERROR" not in run.outcomes.values(), (
        run.out[-3000:] + run.err[-2000:]
    )
    _integrity(db)
    final = q(db, "SELECT id, status FROM optimization_runs ORDER BY id")
    if resume:
        assert len(final) == len(runs), "resume must continue the run, not start a new one"
    assert final[-1][1] in ("passed", "failed")
    assert _best_prompt(db) == uninterrupted_best, "a resumed run must reach the same best prompt"
    repeats = _wasted(db, srv)
    assert repeats <= WASTE_BOUND, repeats
    FIGURES["repeated_calls_after_kill"] += repeats
    FIGURES["clean_resumes"] += int(bool(resume))


def test_sigint_marks_run_interrupted(tmp_path: Path) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer(latency_s=0.2) as srv:
        proc = popen_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=1")
        _wake_on_exit(proc, srv)
        try:
            # Mid-run: the server has answered the first call and is serving the second.
            srv.wait_for_requests(2, lambda: proc.poll() is not None)
            assert proc.poll() is None, "the run finished before the interrupt"
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert rc == 2, rc  # pytest's ExitCode.INTERRUPTED
    _integrity(db)
    assert q(db, "SELECT status, finished_at IS NOT NULL FROM optimization_runs") == [
        ("interrupted", 1)
    ]
    FIGURES["interrupts"] += 1
