"""Shards across CI jobs: `--promptopt-shard I/N` sessions join one named run; `promptopt gate`
waits for them, applies the suite-level gates and decides as one unsharded session would."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_promptopt.suites.shard import shard_of
from tests.support.plugin import SUPPORT_PROMPT
from tests.support.scaleout import finish, judged_suite, start_pytest, subprocess_env
from tests.support.scaleout import write_project as make_project

pytestmark = pytest.mark.slow
GRADED = "--promptopt-min-pass-rate=0.9"  # every failing case is xfailed: the gate decides


def variant_suite(name: str, n: int) -> str:
    """A suite of `n` cases judged in two variants."""
    lines = [f"name: {name}", f"prompt: {json.dumps(SUPPORT_PROMPT)}", "variants:"]
    lines += ["  v1: {}", '  v2: {prompt: "You are terse. Answer in one line."}', "cases:"]
    for i in range(n):
        lines += [f"  - id: k{i}", f"    input: {json.dumps(f'Where is my order {i}?')}"]
        lines += ["    expected: Asks for the order number"]
    return "\n".join(lines) + "\n"


def project(root: Path) -> Path:
    return make_project(
        root, {"a.promptopt.yaml": judged_suite("a", 12), "v.promptopt.yaml": variant_suite("v", 6)}
    )


def item_outcomes(output: str) -> dict[str, str]:
    """Item id -> PASSED/FAILED/ERROR/XFAIL from the `-rA` short summary."""
    found = re.findall(r"^(PASSED|FAILED|ERROR|XFAIL) (\S+::\S+)", output, flags=re.MULTILINE)
    return {node: outcome for outcome, node in found}


def section(output: str) -> list[str]:
    """The lines of the `promptopt` section, without those that name a place or the shards."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ promptopt =+$", line))
    body = []
    for line in lines[start + 1 :]:
        if line.startswith(("reports:", "=")):
            break
        body.append(line)
    return sorted(line for line in body if not line.startswith("shards:"))


def gate(root: Path, db: str, *args: str) -> tuple[int, str]:
    """`promptopt --db DB gate ...`: (exit code, stdout and stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", "--db", db, "gate", *args],
        cwd=root,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def table(url: str, query: str) -> list[tuple[object, ...]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query))]
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database the shards share: one SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_three_shards_join_one_run_and_the_gate_decides_as_one_session(
    shared_db: str, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    single_db = f"--promptopt-db=sqlite:///{tmp_path / 'single.db'}"
    rc_single, single = finish(start_pytest(root, "-rA", "-n", "0", GRADED, single_db), 300)
    assert rc_single == 1, single[-3000:]  # suite `a` is under its pass rate
    assert "FAILED pass-rate gate" in single

    db = f"--promptopt-db={shared_db}"
    name = "--promptopt-run-name=ci-7"
    procs = [
        start_pytest(root, "-rA", *(("-n", "2") if i == 2 else ("-n", "0")), GRADED, db, name,
                     f"--promptopt-shard={i}/3")
        for i in (1, 2, 3)
    ]  # fmt: skip
    shards = [finish(p, 300) for p in procs]
    joined: dict[str, str] = {}
    for i, (rc, out) in enumerate(shards, start=1):
        assert rc == 0, out[-3000:]  # its items xfail; the pass rate is not its to decide
        assert (
            f"shard {i}/3 of run 'ci-7'" in out and "deferred to `promptopt gate --run ci-7`" in out
        )
        assert "FAILED pass-rate gate" not in out
        mine = item_outcomes(out)
        assert not set(mine) & set(joined)  # no case in two shards
        joined.update(mine)
        # A case's variants stay together in one shard.
        for node in mine:
            if "@v1]" in node:
                assert node.replace("@v1]", "@v2]") in mine
    assert joined == item_outcomes(single)  # every case judged once, with the same outcome

    runs = table(shared_db, "SELECT id, name FROM optimization_runs")
    assert len(runs) == 1 and runs[0][1] == "ci-7"
    evaluations = table(shared_db, "SELECT prompt_id, test_case_id, sample FROM evaluations")
    assert len(evaluations) == len(joined) == len(set(evaluations)) == 12 + 2 * 6
    assert table(shared_db, "SELECT shard, total, status FROM run_shards ORDER BY shard") == [
        (1, 3, "passed"), (2, 3, "passed"), (3, 3, "passed"),
    ]  # fmt: skip

    rc, out = gate(root, shared_db, "--run", "ci-7", "--timeout", "30")
    assert rc == 1, out[-3000:]
    assert section(out) == section(single)
    assert "promptopt gate: run 'ci-7' FAILED" in out
    assert (root / ".promptopt" / "reports" / str(runs[0][0]) / "report.json").exists()

    rc, out = gate(root, shared_db, "--run", "ci-7", "--min-pass-rate", "0", "--json")
    assert rc == 0, out[-3000:]
    data = json.loads(out)
    assert data["status"] == "passed" and [s["status"] for s in data["shards"]] == ["passed"] * 3
    assert {g["suite"] for g in data["pass_rates"]} == {"a", "v@v1", "v@v2"}


SLOW_CHECK = """
import pathlib
import time


def slow(answer, case):
    while pathlib.Path(__file__).with_name("SLOW").exists():
        time.sleep(0.2)
    return True
"""


def slow_suite() -> str:
    """One case whose `python` check waits while the file SLOW exists."""
    lines = ["name: slow", f"prompt: {json.dumps(SUPPORT_PROMPT)}", "cases:", "  - id: s0"]
    lines += ["    input: hi", "    judge: false", "    assert:", "      - python: slowcheck:slow"]
    return "\n".join(lines) + "\n"


def test_a_killed_shard_is_reported_missing_and_running_it_again_completes_the_run(
    tmp_path: Path,
) -> None:
    root = make_project(
        tmp_path / "proj",
        {"a.promptopt.yaml": judged_suite("a", 6), "s.promptopt.yaml": slow_suite()},
    )
    (root / "slowcheck.py").write_text(SLOW_CHECK, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    killed = shard_of("slow", "s0", 2)
    args = ("-n", "0", f"--promptopt-db={url}", "--promptopt-run-name=r")

    other = 3 - killed
    rc, out = finish(start_pytest(root, *args, f"--promptopt-shard={other}/2"), 300)
    assert rc in (0, 1), out[-3000:]
    (root / "SLOW").write_text("", encoding="utf-8")
    proc = start_pytest(root, *args, f"--promptopt-shard={killed}/2")
    deadline = time.monotonic() + 120
    while not table(url, f"SELECT shard FROM run_shards WHERE shard = {killed}"):
        assert proc.poll() is None and time.monotonic() < deadline, "the shard never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)

    rc, out = gate(root, url, "--run", "r", "--timeout", "1", "--poll", "0.2")
    assert rc == 2, out
    assert f"shard {killed}/2: stopped without finishing" in out and "run that shard again" in out
    assert f"shard {other}/2" not in out
    assert table(url, "SELECT status FROM optimization_runs") == [("running",)]

    (root / "SLOW").unlink()
    rc, out = finish(start_pytest(root, *args, f"--promptopt-shard={killed}/2"), 300)
    assert rc in (0, 1), out[-3000:]
    assert table(url, "SELECT status FROM run_shards ORDER BY shard") != []
    rc, out = gate(root, url, "--run", "r", "--timeout", "30", "--json")
    assert rc in (0, 1), out
    data = json.loads(out)
    assert sorted(s["shard"] for s in data["shards"]) == [1, 2]
    cases = table(url, "SELECT suite, case_key FROM test_cases WHERE stage = 'given'")
    assert len(cases) == len(set(cases)) == 7  # the re-run shard recorded its case once


def test_a_shard_that_never_started_is_named_by_the_gate(tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ("-n", "0", f"--promptopt-db={url}", "--promptopt-run-name=half")
    rc, out = finish(start_pytest(root, *args, "--promptopt-shard=1/2"), 300)
    assert rc in (0, 1), out[-3000:]
    rc, out = gate(root, url, "--run", "half", "--timeout", "0.5", "--poll", "0.1")
    assert rc == 2 and "shard 2/2: never started" in out, out
    rc, out = gate(root, url, "--run", "nobody", "--timeout", "0")
    assert rc == 2 and "no shard of run 'nobody' has started" in out, out


@pytest.mark.parametrize("value", ["0/3", "4/3", "x"])
def test_a_bad_shard_is_a_usage_error(tmp_path: Path, value: str) -> None:
    root = project(tmp_path / "proj")
    rc, out = finish(start_pytest(root, "-n", "0", f"--promptopt-shard={value}"), 120)
    assert rc == 4, out[-2000:]  # pytest's usage error
    assert "--promptopt-shard must be I/N with 1 <= I <= N" in out


def test_optimize_pipelines_of_a_named_run_are_claimed_once_across_shards(tmp_path: Path) -> None:
    description = "Support bot of an online shop; handles refunds and deliveries politely."
    root = make_project(
        tmp_path / "proj",
        {"alpha.promptopt.yaml": judged_suite("alpha", 8, description=description)},
    )
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ("-rA", "-n", "0", "--optimize", f"--promptopt-db={url}", "--promptopt-run-name=opt")
    procs = [start_pytest(root, *args, f"--promptopt-shard={i}/2") for i in (1, 2)]
    results = [finish(p, 300) for p in procs]
    for rc, out in results:
        assert rc in (0, 1), out[-3000:]
    assert sum(len(item_outcomes(out)) for _, out in results) == 8
    stages = table(url, "SELECT stage, status, summary FROM stage_results WHERE suite = 'alpha'")
    assert [s[0] for s in stages].count("generate_prompts") == 1, stages
    owners = [s for s in stages if s[0] == "pipeline_owner"]
    assert len(owners) == 1 and owners[0][1] == "completed", owners
    best = json.loads(str(owners[0][2]))["best_prompt_id"]
    # The items of both shards judged the one pipeline's best prompt: every given case.
    given = table(url, "SELECT id FROM test_cases WHERE suite = 'alpha' AND stage = 'given'")
    judged = table(url, f"SELECT DISTINCT test_case_id FROM evaluations WHERE prompt_id = {best}")
    assert len(given) == 8 and set(given) <= set(judged)
    assert len(table(url, "SELECT id FROM optimization_runs")) == 1


def test_a_shard_without_a_run_name_gates_its_own_cases_and_says_so(tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    db = f"--promptopt-db=sqlite:///{tmp_path / 'own.db'}"
    rc, out = finish(start_pytest(root, "-n", "0", GRADED, db, "--promptopt-shard=1/2"), 300)
    assert rc in (0, 1), out[-3000:]
    assert "shard 1/2 without a run name: the gates above judged this shard's cases only" in out
    assert "deferred" not in out
    assert table(f"sqlite:///{tmp_path / 'own.db'}", "SELECT name FROM optimization_runs") == [
        (None,)
    ]


def test_the_gate_compares_the_joined_run_with_its_baseline(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", {"a.promptopt.yaml": judged_suite("a", 12)})
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    db = f"--promptopt-db={url}"
    rc, out = finish(start_pytest(root, "-n", "0", db), 300)
    assert rc == 1, out[-3000:]  # some cases fail on the simulator
    done = subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", "--db", url, "bless", "1"],
        cwd=root, env=subprocess_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    args = ("-n", "0", db, "--promptopt-baseline", "--promptopt-run-name=b")
    for i in (1, 2):
        rc, out = finish(start_pytest(root, *args, f"--promptopt-shard={i}/2"), 300)
        assert "baseline run 1" not in out and "deferred" in out, out[-3000:]
    rc, out = gate(root, url, "--run", "b", "--timeout", "30")
    assert rc == 1, out  # the shards' failing cases fail the run; the baseline holds
    assert "baseline run 1: " in out and "unchanged" in out, out
    rc, out = gate(root, url, "--run", "b", "--baseline", "1", "--json")
    data = json.loads(out)
    assert data["baselines"]["a"]["baseline_run_id"] == 1
    assert data["baselines"]["a"]["regressed"] is False
