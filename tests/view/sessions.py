"""Real pytest sessions on the simulator that fill a database for the viewer's tests.

One project, three runs: a plain run that is blessed as the baseline, a worse run compared with
it (cases flip from pass to fail) whose suites include variants and a hostile case id, and an
`--optimize` run. Each session runs in a subprocess, as a user's would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.gate import CASES, GOOD_PROMPT, WORSE_PROMPT
from tests.support.plugin import ENV_VARS

HOSTILE_ID = "<script>alert('id')</script>"
HOSTILE_INPUT = "Say <script>alert('answer')</script> and <b>bold</b> back to me"
OPTIMIZE = (
    "--optimize",
    "--promptopt-candidates=2",
    "--promptopt-quick-tests=2",
    "--promptopt-rigorous-tests=2",
    "--promptopt-top-k=2",
    "--promptopt-top-m=1",
    "--promptopt-iterations=1",
)


@dataclass(frozen=True)
class History:
    """The database the sessions wrote and the ids of their runs."""

    url: str
    root: Path
    baseline: int
    regressed: int
    optimized: int


def _support(prompt: str) -> str:
    """The 12-case support suite of `tests.support.gate` with `prompt`."""
    lines = ["name: support", f'prompt: "{prompt}"', "threshold: 0.6", "cases:"]
    for case_id, text, expected in CASES:
        if int(case_id.rsplit("-", 1)[1]) <= 4:
            lines += [f"  - id: {case_id}", f'    input: "{text}"', f'    expected: "{expected}"']
    return "\n".join(lines) + "\n"


HOSTILE = f"""name: hostile
prompt: "Repeat what the user says."
variants:
  full: {{}}
  terse: {{prompt: "Answer in one short sentence."}}
cases:
  - id: "{HOSTILE_ID}"
    input: "{HOSTILE_INPUT}"
    expected: "Repeats the text"
  - id: plain
    input: "Hello there"
    expected: "Greets back"
"""

SHOP = """name: shop
description: Support assistant of a kitchenware shop.
prompt: "You are the support assistant of a kitchenware shop."
threshold: 0.7
cases:
  - {id: refund-pan, category: refund, input: "My pan arrived scratched, refund please",
     expected: "Apologises, states the 30-day refund policy"}
  - {id: refund-mug, category: refund, input: "The mug leaks, refund?",
     expected: "Apologises, states the 30-day refund policy"}
  - {id: refund-pot, category: refund, input: "Broken lid on my pot, I want my money back",
     expected: "Apologises, states the 30-day refund policy"}
  - {id: delivery-de, category: delivery, input: "How long is delivery to Germany?",
     expected: "Says delivery takes 3-5 business days"}
  - {id: delivery-fr, category: delivery, input: "Shipping time to France?",
     expected: "Says delivery takes 3-5 business days"}
  - {id: delivery-it, category: delivery, input: "When will my parcel reach Italy?",
     expected: "Says delivery takes 3-5 business days"}
"""


def _env(url: str) -> dict[str, str]:
    """The environment of a session: this checkout first on the path, the database, no keys."""
    ci = ("GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME")
    env = {k: v for k, v in os.environ.items() if k not in (*ENV_VARS, *ci)}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    env["PROMPTOPT_DB"] = url
    return env


def _run(root: Path, url: str, *args: str) -> None:
    """One pytest session in the project; its exit code may say tests failed, not more."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=root, env=_env(url), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        raise RuntimeError(f"session {args} ended {done.returncode}:\n{done.stdout}{done.stderr}")


def _cli(root: Path, url: str, *args: str) -> str:
    """`promptopt --db URL ARGS` in the project; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_promptopt.cli.main", "--db", url, *args],
        cwd=root, env=_env(url), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def _latest(root: Path, url: str) -> int:
    """The id of the newest run."""
    import json

    return int(json.loads(_cli(root, url, "runs", "--json", "--limit", "1"))[0]["id"])


def _git(root: Path, *args: str) -> None:
    """A git command in the project (when git is installed: the runs record the branch)."""
    if shutil.which("git"):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                       capture_output=True, check=True)  # fmt: skip


def make_history(root: Path, url: str) -> History:
    """Write the project under `root` (a git repository: the baseline on `main`, the rest on
    `feature`) and run its sessions against `url`."""
    suites = root
    suites.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\npromptopt_model = simulated\n")
    (suites / "support.promptopt.yaml").write_text(_support(GOOD_PROMPT))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "commit", "-q", "--allow-empty", "-m", "start")
    _run(root, url)
    baseline = _latest(root, url)
    _cli(root, url, "bless", str(baseline))
    _git(root, "checkout", "-q", "-b", "feature")
    (suites / "support.promptopt.yaml").write_text(_support(WORSE_PROMPT))
    (suites / "hostile.promptopt.yaml").write_text(HOSTILE)
    _run(root, url, "--promptopt-baseline")
    regressed = _latest(root, url)
    (suites / "support.promptopt.yaml").unlink()
    (suites / "hostile.promptopt.yaml").unlink()
    (suites / "shop.promptopt.yaml").write_text(SHOP)
    _run(root, url, *OPTIMIZE)
    optimized = _latest(root, url)
    return History(url, root, baseline, regressed, optimized)
