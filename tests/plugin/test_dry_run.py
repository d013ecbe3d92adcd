"""`--promptopt-dry-run`: the estimate equals the calls the following real run makes (simulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.optimize.run_estimate import ESTIMATE_FILE_ENV
from tests.support.plugin import SUPPORT, default_db, query, scalar, summary_lines, write_suite

# Judged single turns (one with two samples), an unjudged case and a two-turn conversation.
SUITE = (
    SUPPORT
    + """    repeats: 2
  - id: short
    input: Can I get my money back?
    judge: false
    assert:
      - max_chars: 2000
  - id: chat
    turns:
      - Hello there
      - I want a refund for order 9
    expected: Helps with the refund
"""
)
# 2 + 1 + 2 turns of the model under test...
TARGET_CALLS = 1 + 2 + 1 + 2
JUDGE_CALLS = 1 + 2 + 1  # ...and one judge call per judged answer


def dry_run(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """A dry run and the estimate it wrote."""
    out = sim.path / "estimate.json"
    out.unlink(missing_ok=True)
    monkeypatch.setenv(ESTIMATE_FILE_ENV, str(out))
    result = sim.runpytest("--promptopt-dry-run", "-rs", *args)
    monkeypatch.delenv(ESTIMATE_FILE_ENV)
    return result, json.loads(out.read_text(encoding="utf-8"))


def calls_by_role(db: Path, run_id: int) -> dict[str, int]:
    """The calls a run recorded in `llm_calls`, by role."""
    rows = query(
        db, "SELECT role, count(*) FROM llm_calls WHERE run_id = ? GROUP BY role", (run_id,)
    )
    return {str(role): int(n) for role, n in rows}


def made(estimate: dict[str, Any]) -> dict[str, int]:
    """The estimate's uncached calls by role (roles with none left out)."""
    return {r: t["calls"] for r, t in estimate["roles"].items() if t["calls"]}


def test_dry_run_makes_no_call_and_skips_every_item(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(sim, "support", SUITE)
    sim.makepyfile(test_plain="def test_plain():\n    assert False\n")
    result, estimate = dry_run(sim, monkeypatch)
    assert result.ret == 0
    result.assert_outcomes(skipped=5)
    assert any(line.endswith(": dry run") for line in result.outlines)
    assert "promptopt dry run" in result.stdout.str()
    assert estimate["not_counted"] == [
        "1 other test items: the calls they make through the promptopt fixtures"
    ]
    db = default_db(sim)
    assert not db.exists() or scalar(db, "SELECT count(*) FROM llm_calls") == 0
    assert not db.exists() or scalar(db, "SELECT count(*) FROM optimization_runs") == 0
    assert made(estimate) == {"target": TARGET_CALLS, "judge": JUDGE_CALLS}
    assert estimate["total"]["cached"] == 0
    assert estimate["total"]["max_calls"] == TARGET_CALLS + 2 * JUDGE_CALLS  # schema retries
    assert estimate["total"]["cost_usd"] > 0


def test_estimate_matches_the_run_then_everything_is_cached(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(sim, "support", SUITE)
    _, before = dry_run(sim, monkeypatch)
    sim.runpytest()
    db = default_db(sim)
    assert calls_by_role(db, 1) == made(before)
    _, after = dry_run(sim, monkeypatch)
    assert made(after) == {}
    assert after["total"]["cost_usd"] == 0
    assert after["total"]["cached"] == TARGET_CALLS + JUDGE_CALLS
    # The cached calls show the tokens the run recorded.
    recorded = scalar(db, "SELECT sum(input_tokens) FROM llm_calls")
    assert after["total"]["input_tokens"] == recorded


def test_partly_cached_run_with_judge_repeats_and_batch_discount(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(sim, "support", SUITE)
    sim.runpytest()
    # Two judge repeats: repeat 0 is cached, repeat 1 is new; a new case is new throughout.
    write_suite(
        sim,
        "support",
        SUITE + "  - id: parcel\n    input: Where is my parcel\n    expected: Says when\n",
    )
    flags = ("--promptopt-judge-repeats=2",)
    _, estimate = dry_run(sim, monkeypatch, *flags)
    assert made(estimate) == {"target": 1, "judge": JUDGE_CALLS + 2}
    assert estimate["total"]["cached"] == TARGET_CALLS + JUDGE_CALLS
    _, batched = dry_run(sim, monkeypatch, *flags, "--promptopt-batch")
    assert batched["total"]["cost_usd"] == pytest.approx(estimate["total"]["cost_usd"] / 2)
    result = sim.runpytest(*flags)
    line = summary_lines(result)["support"]
    assert int(line["calls"]) == sum(made(estimate).values())
    assert int(line["hits"]) == estimate["total"]["cached"]
    assert calls_by_role(default_db(sim), 2) == made(estimate)


def test_dry_run_under_xdist_prints_the_workers_estimate(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(sim, "support", SUITE)
    out = sim.path / "estimate.json"
    monkeypatch.setenv(ESTIMATE_FILE_ENV, str(out))
    result = sim.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "--promptopt-dry-run", timeout=180
    )
    assert result.ret == 0
    result.assert_outcomes(skipped=4)
    assert "promptopt dry run" in result.stdout.str()
    assert made(json.loads(out.read_text(encoding="utf-8"))) == {
        "target": TARGET_CALLS,
        "judge": JUDGE_CALLS,
    }
    db = default_db(sim)
    assert not db.exists() or scalar(db, "SELECT count(*) FROM llm_calls") == 0
    assert not db.exists() or scalar(db, "SELECT count(*) FROM optimization_runs") == 0
