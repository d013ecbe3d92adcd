"""Helpers of the reliability tests: a 12-case suite and pytest runs in a subprocess."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.plugin import SUPPORT, SUPPORT_PROMPT

# Figures of the session (faults injected, kills, fuzz examples), written out by conftest.py.
FIGURES: Counter[str] = Counter()
PY = sys.executable
MODEL = "claude-haiku-4-5"
API_KEY = "test-key-XYZ"
BASE_FLAGS = (
    f"--promptopt-model={MODEL}",
    "--promptopt-timeout=1",
    "--promptopt-max-retries=6",
)
POISON = "Please escalate ticket POISON-7731"  # input of the case the server always fails
BAD_JUDGE = "My parcel JUDGEBAD-42 never came"  # input of the case whose verdicts are broken


def support_suite(extra_cases: str = "") -> str:
    """The plugin tests' support suite (a refund case that passes, a penguin case that fails)
    plus `extra_cases` (YAML list items)."""
    return SUPPORT + extra_cases


SUITE = f"""
name: support
prompt: "{SUPPORT_PROMPT}"
threshold: 0.7
cases:
  - id: refund
    input: I want a refund for order 123
    expected: Apologises, asks for the order e-mail, states the 30-day policy
  - id: refund-2
    input: Can I get my money back for order 456?
    expected: Apologises and asks for the order e-mail
  - id: penguins
    input: What's the weather like?
    expected: Tells a joke about penguins and recommends a hat
  - id: poison
    input: "{POISON}"
    expected: Apologises and asks for the order e-mail
  - id: judgebad
    input: "{BAD_JUDGE}"
    expected: Apologises and asks for the order e-mail
  - id: greet
    input: Hello there
    expected: Greets the customer
  - id: broken
    input: My package arrived broken
    expected: Apologises and asks for the order e-mail
  - id: late
    input: The parcel was late, refund please
    expected: Apologises, states the 30-day policy
  - id: contains-refund
    input: Refund for order 789
    judge: false
    assert: [{{icontains: refund}}]
  - id: not-sql
    input: Where is my order?
    judge: false
    assert: [{{regex: "^SELECT"}}]
  - id: short
    input: Thanks!
    judge: false
    assert: [{{max_chars: 2000}}]
  - id: hat
    input: Do you sell hats?
    expected: Recommends a hat and gives the price in euros
"""
CASES = 12


def write_project(root: Path, suite: str = SUITE) -> Path:
    """A project dir with the suite file; returns the suite path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    path = root / "support.promptopt.yaml"
    path.write_text(textwrap.dedent(suite))
    return path


def env_for(base_url: str | None, key: str = API_KEY, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "PROMPTOPT_", "GITHUB_", "PYTEST_"))
    }
    env["ANTHROPIC_API_KEY"] = key
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def pytest_cmd(*args: str) -> list[str]:
    return [PY, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-rA", *args]


@dataclass
class Run:
    rc: int
    out: str
    err: str

    @property
    def outcomes(self) -> dict[str, str]:
        res: dict[str, str] = {}
        for line in self.out.splitlines():
            m = re.match(r"^(PASSED|FAILED|ERROR) (\S+)", line)
            if m:
                res[m.group(2)] = m.group(1)
        return res

    def error_text(self, case_id: str) -> str:
        """The short-summary line of an errored item (contains the error message)."""
        for line in self.out.splitlines():
            if line.startswith("ERROR ") and f"[{case_id}]" in line:
                return line
        return ""


def run_pytest(
    root: Path, base_url: str | None, *args: str, timeout: float = 120, **env: str
) -> Run:
    proc = subprocess.run(
        pytest_cmd(*BASE_FLAGS, *args),
        cwd=root,
        env=env_for(base_url, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def popen_pytest(root: Path, base_url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        pytest_cmd(*BASE_FLAGS, *args),
        cwd=root,
        env=env_for(base_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def q(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db, timeout=30)
    try:
        return list(con.execute(sql, params))
    finally:
        con.close()


def section(out: str, case_id: str) -> str:
    """The failure/error section of one item in pytest's output."""
    lines = out.splitlines()
    start = next(
        (i for i, ln in enumerate(lines) if re.match(rf"^_+ .*\[{re.escape(case_id)}\] _+$", ln)),
        None,
    )
    if start is None:
        return ""
    body = []
    for line in lines[start + 1 :]:
        if re.match(r"^(_{3,}|={3,}) ", line):
            break
        body.append(line)
    return "\n".join(body)


# A small --optimize run shared by the kill, resume and orphaned-worker tests.
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
