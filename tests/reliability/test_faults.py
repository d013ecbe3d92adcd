"""API faults on the real SDK path: a loopback server injecting 429/529/500/drops/stalls."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fault_server import FaultServer
from tests.support.reliability import (
    BAD_JUDGE,
    CASES,
    FIGURES,
    POISON,
    q,
    run_pytest,
    section,
    write_project,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Item outcomes of a fault-free run."""
    root = tmp_path_factory.mktemp("baseline")
    write_project(root)
    with FaultServer() as srv:
        run = run_pytest(root, srv.base_url)
    assert len(run.outcomes) == CASES, run.out
    assert "ERROR" not in run.outcomes.values(), run.out
    return run.outcomes


def _db(root: Path) -> Path:
    return root / ".promptopt" / "promptopt.db"


def test_thirty_percent_faults_change_no_outcome(tmp_path: Path, baseline: dict[str, str]) -> None:
    write_project(tmp_path)
    with FaultServer(seed=1234, rate=0.3) as srv:
        run = run_pytest(tmp_path, srv.base_url)
    FIGURES["faults_injected"] += srv.total_faults
    assert srv.total_faults >= 5, srv.faults
    assert {"429", "529", "500"} <= set(srv.faults), srv.faults
    assert run.outcomes == baseline, run.out[-4000:]
    FIGURES["faults_survived"] += srv.total_faults
    # No duplicate rows: one evaluation per case, one llm_calls row per distinct request.
    db = _db(tmp_path)
    assert q(db, "SELECT count(*) FROM evaluations")[0][0] == CASES
    assert (
        q(db, "SELECT count(*), count(DISTINCT request_hash) FROM llm_calls")[0]
        == (q(db, "SELECT count(*) FROM llm_calls")[0][0],) * 2
    )
    # Every retry after a 429 came no sooner than the retry-after the server sent.
    assert srv.retry_after_gaps, "no 429 was retried"
    for gap, retry_after in srv.retry_after_gaps:
        assert gap >= retry_after * 0.95, srv.retry_after_gaps
    FIGURES["retries_after_429_checked"] += len(srv.retry_after_gaps)
    assert q(db, "SELECT status FROM optimization_runs") == [("failed",)]


def test_429_retry_after_is_honoured(tmp_path: Path) -> None:
    """Only 429s, with a retry-after long enough that ignoring it would show."""
    write_project(tmp_path)
    with FaultServer(seed=7, rate=0.5, kinds={"429": 1.0}, retry_after_s=0.3) as srv:
        run = run_pytest(tmp_path, srv.base_url, "-k", "refund or penguins or greet")
    assert "ERROR" not in run.outcomes.values(), run.out[-3000:]
    assert len(srv.retry_after_gaps) >= 3, srv.faults
    FIGURES["faults_injected"] += srv.total_faults
    FIGURES["faults_survived"] += srv.total_faults
    FIGURES["retries_after_429_checked"] += len(srv.retry_after_gaps)
    early = [g for g, ra in srv.retry_after_gaps if g < ra * 0.95]
    assert not early, f"retries sooner than retry-after=0.3s: {early}"


def test_permanent_500_for_one_case_is_an_error_naming_status_and_request_id(
    tmp_path: Path, baseline: dict[str, str]
) -> None:
    write_project(tmp_path)
    with FaultServer(always_500_for=POISON) as srv:
        run = run_pytest(tmp_path, srv.base_url)
    poison = "support.promptopt.yaml::support[poison]"
    assert run.outcomes[poison] == "ERROR", run.out[-3000:]
    text = section(run.out, "poison")
    assert "500" in text and "req_fault_" in text, text
    others = {k: v for k, v in run.outcomes.items() if k != poison}
    assert others == {k: v for k, v in baseline.items() if k != poison}
    # 1 try + 6 retries, all answered 500.
    assert srv.faults["500"] == 7, srv.faults
    FIGURES["faults_injected"] += srv.total_faults
    (status,) = q(_db(tmp_path), "SELECT status FROM optimization_runs")[0]
    assert status == "failed"


def test_transient_stalls_are_cut_by_the_timeout(tmp_path: Path, baseline: dict[str, str]) -> None:
    write_project(tmp_path)
    with FaultServer(seed=5, rate=0.2, kinds={"stall": 1.0}, stall_s=1.5) as srv:
        run = run_pytest(tmp_path, srv.base_url, timeout=90)
    assert srv.faults["stall"] >= 1, srv.faults
    assert run.outcomes == baseline, run.out[-3000:]
    FIGURES["faults_injected"] += srv.total_faults
    FIGURES["faults_survived"] += srv.total_faults


def test_permanent_stall_errors_naming_a_timeout(tmp_path: Path) -> None:
    # Fewer retries than elsewhere: each retry of a stall costs the full timeout plus backoff.
    write_project(tmp_path)
    with FaultServer(always_stall=True, stall_s=1.5) as srv:
        run = run_pytest(
            tmp_path, srv.base_url, "-k", "refund-2", "--promptopt-max-retries=1", timeout=60
        )
    assert list(run.outcomes.values()) == ["ERROR"], run.out[-3000:]
    assert "timed out" in section(run.out, "refund-2"), run.out[-3000:]
    assert srv.faults["stall"] == 2
    FIGURES["faults_injected"] += srv.total_faults
    (status,) = q(_db(tmp_path), "SELECT status FROM optimization_runs")[0]
    assert status == "failed"


def test_schema_violating_judge_is_retried_once_then_errors(
    tmp_path: Path, baseline: dict[str, str]
) -> None:
    write_project(tmp_path)
    with FaultServer(judge_bad_for=BAD_JUDGE, judge_truncate_first=True) as srv:
        run = run_pytest(tmp_path, srv.base_url)
    bad = "support.promptopt.yaml::support[judgebad]"
    assert run.outcomes[bad] == "ERROR", run.out[-3000:]
    assert "did not match" in section(run.out, "judgebad")
    # Exactly two verdicts for the broken case: the first answer and one retry.
    assert srv.faults["judge_schema"] == 2, srv.faults
    # Every other judged case got a truncated first verdict, was retried once and kept its outcome.
    assert srv.faults["judge_truncated"] >= 7, srv.faults
    assert {k: v for k, v in run.outcomes.items() if k != bad} == {
        k: v for k, v in baseline.items() if k != bad
    }
    FIGURES["faults_injected"] += srv.total_faults
    FIGURES["faults_survived"] += srv.faults["judge_truncated"]
