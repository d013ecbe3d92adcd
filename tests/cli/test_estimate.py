"""`promptopt estimate`: a simulated project's calls before a run; --optimize within bounds."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main

INI = "[pytest]\npromptopt_model = simulated\n"
SUITE = """\
name: shop
prompt: "You are the support assistant of a kitchenware shop."
cases:
  - id: refund
    input: My pan arrived scratched, refund please
    expected: Apologises, states the 30-day refund policy
  - id: knife
    input: The knife is blunt, can I return it?
    expected: Apologises, states the 30-day refund policy
  - id: delivery
    input: How long is delivery to Wuppertal?
    expected: Says delivery takes 3-5 business days
  - id: parcel
    input: When will my parcel reach Bergamo?
    expected: Says delivery takes 3-5 business days
  - id: short
    input: Hello
    judge: false
    assert:
      - max_chars: 2000
"""
SMALL = (
    "--promptopt-candidates=2",
    "--promptopt-quick-tests=1",
    "--promptopt-rigorous-tests=1",
    "--promptopt-top-k=1",
    "--promptopt-top-m=1",
    "--promptopt-iterations=1",
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A simulated project with one suite, the current directory."""
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "shop.promptopt.yaml").write_text(SUITE)
    monkeypatch.chdir(tmp_path)
    for name in ("PROMPTOPT_DB", "PROMPTOPT_MODEL", "PROMPTOPT_CACHE", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def estimate(*args: str) -> dict[str, Any]:
    """`promptopt estimate --json ARGS` as JSON."""
    result = CliRunner().invoke(main, ["estimate", "--json", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def pytest_run(*args: str) -> int:
    """A real run of the project in a subprocess; its exit code."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, capture_output=True, check=False).returncode


def recorded(project: Path) -> dict[str, int]:
    """The calls recorded in `llm_calls`, by role."""
    with sqlite3.connect(project / ".promptopt" / "promptopt.db") as con:
        rows = con.execute("SELECT role, count(*) FROM llm_calls GROUP BY role").fetchall()
    return {str(role): int(n) for role, n in rows}


def test_estimate_then_run_then_all_cached(project: Path) -> None:
    first = estimate()
    assert first["mode"] == "run" and first["cases"] == 5
    assert not (project / ".promptopt" / "promptopt.db").exists()  # the estimate made nothing
    pytest_run()
    calls = {r: t["calls"] for r, t in first["roles"].items()}
    assert recorded(project) == calls == {"target": 5, "judge": 4}
    second = estimate()
    assert second["total"]["calls"] == 0 and second["total"]["cost_usd"] == 0
    assert second["total"]["cached"] == 9
    text = CliRunner().invoke(main, ["estimate", "-k", "refund"])
    assert text.exit_code == 0, text.output
    assert "estimate of a run: 1 cases" in text.output
    assert "cached calls cost $0" in text.output


def test_optimize_run_stays_within_the_declared_bounds(project: Path) -> None:
    found = estimate("--optimize", *SMALL)
    assert found["mode"] == "optimize"
    (suite,) = found["optimize"]
    assert suite["suite"] == "shop" and 0 < suite["calls"] <= suite["max_calls"]
    assert sum(suite["roles"].values()) == suite["calls"]
    pytest_run("--optimize", *SMALL)
    made = sum(recorded(project).values())
    assert 0 < made <= found["total"]["max_calls"]


def test_pytest_error_is_reported(project: Path) -> None:
    result = CliRunner().invoke(main, ["estimate", "--promptopt-concurrency=zero"])
    assert result.exit_code == 1
    assert "pytest collected no estimate" in result.output
