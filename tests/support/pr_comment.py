"""Real sessions on the simulator for `promptopt comment`'s tests: named runs of the support suite.

`good` (the good prompt, 24 cases, threshold 0.7) is blessed; `worse` (the prompt without its
refund directive: the refund cases lose what they need, several go pass -> fail) regresses
against it and `good` improves on `worse`; `few` (3 cases of the worse prompt, a plain run
without a name) is too small to tell; `half` is shard 1/2 of a run whose shard 2 never ran.
Each session runs in a subprocess, as in CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.gate import CASES, GOOD_PROMPT, WORSE_PROMPT
from tests.support.scaleout import subprocess_env


@dataclass(frozen=True)
class Runs:
    """The project, its database and the ids of its runs."""

    root: Path
    db: str
    good: int
    worse: int
    few: int
    half: int


def support(prompt: str, cases: int, threshold: float = 0.7) -> str:
    """The support suite of `tests.support.gate` with `cases` cases (a third of each topic)."""
    picked = [c for c in CASES if int(c[0].rsplit("-", 1)[1]) <= cases // 3]
    lines = ["name: support", f"prompt: {json.dumps(prompt)}", f"threshold: {threshold}",
             "gate: none", "cases:"]  # fmt: skip
    for case_id, text, expected in picked:
        lines += [f"  - id: {case_id}", f"    input: {json.dumps(text)}",
                  f"    expected: {json.dumps(expected)}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def env() -> dict[str, str]:
    """The sessions' environment: no keys, no CI variables, this checkout first on the path."""
    found = {k: v for k, v in subprocess_env().items() if not k.startswith("GITHUB_")}
    root = str(Path(__file__).resolve().parents[2])
    found["PYTHONPATH"] = root + (":" + found["PYTHONPATH"] if found.get("PYTHONPATH") else "")
    return found


def session(root: Path, *args: str) -> None:
    """One pytest session in the project (its cases may fail; nothing else may go wrong)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=root, env=env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        raise RuntimeError(f"session {args} ended {done.returncode}:\n{done.stdout}{done.stderr}")


def cli(
    root: Path, db: str, *args: str, extra: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """`promptopt --db DB ARGS` in the project: (exit code, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", "--db", db, *args],
        cwd=root, env={**env(), **(extra or {})}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def latest(root: Path, db: str) -> int:
    """The id of the newest run."""
    return int(json.loads(cli(root, db, "runs", "--json", "--limit", "1")[1])[0]["id"])


def make_runs(root: Path) -> Runs:
    """Write the project under `root` and run its sessions."""
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\npromptopt_model = simulated\n")
    suite = root / "support.promptopt.yaml"
    db = str(root / ".promptopt" / "promptopt.db")
    suite.write_text(support(GOOD_PROMPT, 24))
    session(root, "--promptopt-run-name=good")
    good = latest(root, db)
    code, out, _ = cli(root, db, "bless", str(good))
    assert code == 0, out
    suite.write_text(support(WORSE_PROMPT, 24))
    session(root, "--promptopt-run-name=worse")
    worse = latest(root, db)
    suite.write_text(support(WORSE_PROMPT, 3))
    session(root)
    few = latest(root, db)
    suite.write_text(support(GOOD_PROMPT, 24))
    session(root, "--promptopt-run-name=half", "--promptopt-shard=1/2")
    return Runs(root, db, good, worse, few, latest(root, db))
