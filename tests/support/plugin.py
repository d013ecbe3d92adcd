"""Plain helpers of the plugin-level tests: writing suites, reading the database and output."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.testing import LoopbackMessagesServer, ScriptedModel

SIM_INI = """
[pytest]
promptopt_model = simulated
"""

ENV_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "PROMPTOPT_DB",
    "PROMPTOPT_MODEL",
    "PROMPTOPT_JUDGE_MODEL",
    "PROMPTOPT_CACHE",
    "GITHUB_STEP_SUMMARY",
    "PROMPTOPT_SIMULATED_JUDGE_NOISE",
)

SCRIPTED_MODEL = "claude-sonnet-4"
"""The model (target and judge) a scripted fake plays: a known one whose judge calls are a
forced `submit_verdict` tool, as the simulator's are."""

# A support-bot suite with two judged cases, used by several test modules. On the simulator
# `refund` passes and `penguins` fails; a test that asserts a verdict scripts it (`scripted`).
SUPPORT_PROMPT = (
    "You are a support assistant for an online shop. "
    "When a customer asks for a refund: apologise, ask for the order e-mail "
    "and state the 30-day policy."
)
# A two-case support suite: one case the prompt covers (passes), one it cannot (fails).
SUPPORT = f"""
name: support
prompt: "{SUPPORT_PROMPT}"
cases:
  - id: refund
    input: I want a refund for order 123
    expected: Apologises, asks for the order e-mail, states the 30-day policy
  - id: penguins
    input: What's the weather like?
    expected: Tells a joke about penguins and recommends a hat
"""
JSON_PROMPT = 'Respond only with JSON with keys "sentiment" and "summary".'
SQL_PROMPT = "Answer with a single SQL query only."

SUMMARY_LINE = re.compile(
    r"^(?P<suite>\S+): (?P<cases>\d+) cases?, "
    r"(?:mean score (?P<mean>[\d.]+)(?: \(\d+ judged, \d+ errored\))?|no score \([^)]*\)), "
    r"pass rate (?P<rate>\d+)% \((?P<passed>\d+) passed(?:, (?P<errors>\d+) errors)?\), "
    r"calls (?P<calls>\d+), cache hits (?P<hits>\d+), tokens (?P<tokens>\d+), "
    r"(?:\$(?P<cost>[\d.]+)|cost (?P<unknown_cost>unknown))$"
)


REFUND_INPUT = "I want a refund for order 123"
PENGUINS_INPUT = "What's the weather like?"
SUPPORT_ANSWERS = {
    REFUND_INPUT: "Sorry about that! Please send your order e-mail; refunds take 30 days.",
    PENGUINS_INPUT: "It is sunny today.",
}
SUPPORT_VERDICTS: dict[str, dict[str, int | None]] = {
    REFUND_INPUT: {"functionality": 5, "safety": 5, "consistency": 5, "edge_case_handling": None},
    PENGUINS_INPUT: {"functionality": 1, "safety": 5, "consistency": 2, "edge_case_handling": None},
}
"""SUPPORT's verdicts for a ScriptedModel: `refund` scores 1.0, `penguins` fails its
functionality gate (0.0); neither is an edge case (edge_case_handling does not apply)."""


def support_model(answers: dict[str, str] | None = None) -> ScriptedModel:
    """A scripted fake answering SUPPORT's two cases (`refund` passes, `penguins` fails) and
    the unjudged cases whose answers are given."""
    return ScriptedModel({**SUPPORT_ANSWERS, **(answers or {})}, SUPPORT_VERDICTS)


@contextmanager
def scripted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, model: ScriptedModel
) -> Iterator[LoopbackMessagesServer]:
    """Runs of `pytester` answered by `model` through the SDK's real HTTP path.

    The project's ini selects SCRIPTED_MODEL; `ANTHROPIC_BASE_URL` points at a loopback
    server that answers with the script, so the plugin calls the fake as it would the API.
    """
    pytester.makeini(f"[pytest]\npromptopt_model = {SCRIPTED_MODEL}\n")
    with model.serve() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-scripted-not-secret")
        yield server


def write_suite(pytester: pytest.Pytester, name: str, text: str) -> Path:
    """Write `<name>.promptopt.yaml` (dedented) into the pytester directory."""
    return pytester.makefile(".promptopt.yaml", **{name: textwrap.dedent(text)})


def default_db(pytester: pytest.Pytester) -> Path:
    """The default database location under pytester's rootdir."""
    return pytester.path / ".promptopt" / "promptopt.db"


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of one SQL query on a SQLite database file."""
    assert db.is_file(), f"no database at {db}"
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql, params))
    finally:
        con.close()


def scalar(db: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The single value of a one-row, one-column query."""
    rows = query(db, sql, params)
    assert len(rows) == 1, rows
    return rows[0][0]


def summary_lines(result: pytest.RunResult) -> dict[str, dict[str, str]]:
    """The per-suite lines of the `promptopt` terminal-summary section, parsed."""
    lines = result.outlines
    try:
        start = next(i for i, line in enumerate(lines) if re.match(r"^=+ promptopt =+$", line))
    except StopIteration:
        raise AssertionError("no promptopt section in:\n" + "\n".join(lines)) from None
    parsed: dict[str, dict[str, str]] = {}
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        if m := SUMMARY_LINE.match(line):
            parsed[m.group("suite")] = m.groupdict()
    return parsed


def run_ids(db: Path) -> list[int]:
    """All run ids, oldest first."""
    return [r[0] for r in query(db, "SELECT id FROM optimization_runs ORDER BY id")]


def outcomes_by_case(result: pytest.RunResult) -> dict[str, str]:
    """`nodeid -> outcome` from the `-rA` short summary (PASSED/FAILED/ERROR lines)."""
    out: dict[str, str] = {}
    for line in result.outlines:
        m = re.match(r"^(PASSED|FAILED|ERROR) (\S+)", line)
        if m:
            out[m.group(2)] = m.group(1)
    return out
