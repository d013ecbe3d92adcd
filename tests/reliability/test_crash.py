"""SIGKILL at seeded points of a plain and an --optimize run; SIGINT marks the run interrupted."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.fault_server import FaultServer
from tests.support.reliability import (
    CASES,
    FIGURES,
    SUITE,
    popen_pytest,
    q,
    run_pytest,
    support_suite,
    write_project,
)

pytestmark = pytest.mark.slow

CONCURRENCY = 2
LATENCY = 0.05
OPT_KNOBS = (
    "--optimize",
    "--promptopt-candidates=3",
    "--promptopt-quick-tests=2",
    "--promptopt-rigorous-tests=2",
    "--promptopt-top-k=2",
    "--promptopt-top-m=1",
    "--promptopt-iterations=2",
)
OPT_SUITE = support_suite(
    """
  - id: greet
    input: Hello there
    expected: Greets the customer
"""
)
PLAIN_KILLS = [random.Random(2024).uniform(0.0, 1.6) for _ in range(6)]
OPT_KILLS = [random.Random(77).uniform(0.3, 3.5) for _ in range(4)]


def _wait_first_request(srv: FaultServer, proc: object, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while srv.requests == 0 and time.monotonic() < deadline:
        if proc.poll() is not None:  # type: ignore[attr-defined]
            return
        time.sleep(0.01)


def _kill_at(root: Path, srv: FaultServer, delay: float, *args: str) -> bool:
    """Start pytest, SIGKILL it `delay` s after its first model request; True if it was killed."""
    proc = popen_pytest(root, srv.base_url, f"--promptopt-concurrency={CONCURRENCY}", *args)
    try:
        _wait_first_request(srv, proc)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _repeats(before: Counter[str], after: Counter[str]) -> int:
    """Requests of the second run whose body the first run had already sent."""
    return sum(after[d] - before[d] for d in before if after[d] > before[d])


def _integrity(db: Path) -> None:
    assert db.is_file(), db
    assert q(db, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize("delay", PLAIN_KILLS, ids=[f"kill{i}" for i in range(6)])
def test_sigkill_plain_run_then_rerun(tmp_path: Path, delay: float) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer(latency_s=LATENCY) as srv:
        killed = _kill_at(tmp_path, srv, delay)
        in_first = srv.requests
        _integrity(db)
        before = Counter(srv.bodies)
        run = run_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=8")
        after = Counter(srv.bodies)
    FIGURES["kills"] += int(killed)
    assert len(run.outcomes) == CASES and "ERROR" not in run.outcomes.values(), run.out[-3000:]
    _integrity(db)
    repeats = _repeats(before, after)
    assert repeats <= CONCURRENCY * 2, (repeats, in_first)
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
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Counter[str]]:
    """The best prompt of the same optimize run, never killed (the simulator is deterministic),
    and the bodies it sent."""
    root = tmp_path_factory.mktemp("reference")
    write_project(root, OPT_SUITE)
    with FaultServer(latency_s=LATENCY) as srv:
        run = run_pytest(root, srv.base_url, "--promptopt-concurrency=8", *OPT_KNOBS)
        sent = Counter(srv.bodies)
    assert len(run.outcomes) == 3, run.out[-3000:]
    return _best_prompt(root / ".promptopt" / "promptopt.db"), sent


@pytest.mark.parametrize("delay", OPT_KILLS, ids=[f"kill{i}" for i in range(4)])
def test_sigkill_optimize_run_then_resume(
    tmp_path: Path, delay: float, uninterrupted: tuple[str, Counter[str]]
) -> None:
    uninterrupted_best, reference = uninterrupted
    write_project(tmp_path, OPT_SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer(latency_s=LATENCY) as srv:
        killed = _kill_at(tmp_path, srv, delay, *OPT_KNOBS)
        _integrity(db)
        before = Counter(srv.bodies)
        runs = q(db, "SELECT id, status, mode FROM optimization_runs")
        resume = ("--promptopt-resume",) if killed and runs else ()
        run = run_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=8", *OPT_KNOBS, *resume)
        after = Counter(srv.bodies)
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
    # Repeated samples of one request send one body (the sample index is only in the cache
    # key), so the calls the kill cost are the bodies sent beyond an uninterrupted run's.
    repeats = sum(max(0, n - reference[d]) for d, n in after.items() if d in before)
    assert repeats <= CONCURRENCY * 2, repeats
    FIGURES["repeated_calls_after_kill"] += repeats
    FIGURES["clean_resumes"] += int(bool(resume))


def test_sigint_marks_run_interrupted(tmp_path: Path) -> None:
    write_project(tmp_path, SUITE)
    db = tmp_path / ".promptopt" / "promptopt.db"
    with FaultServer(latency_s=0.2) as srv:
        proc = popen_pytest(tmp_path, srv.base_url, "--promptopt-concurrency=1")
        try:
            _wait_first_request(srv, proc)
            time.sleep(0.5)
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
