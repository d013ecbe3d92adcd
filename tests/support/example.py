"""Run the example project as a user would: a private copy, pytest in a subprocess, no API key."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def copy_example(tmp_path: Path, name: str = "example_project") -> Path:
    """A private copy of the example project (its database and reports stay in tmp)."""
    target = tmp_path / name
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".promptopt", "__pycache__"))
    return target


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on the project in a subprocess with no API key in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PROMPTOPT_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(project), "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=600,
    )


def outcomes(output: str) -> dict[str, str]:
    """Item id -> PASSED/FAILED/ERROR from `-rA` short summary lines."""
    found = re.findall(r"^(PASSED|FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)
    return {node: outcome for outcome, node in found}
