"""The composite action `.github/actions/promptopt/action.yml`: its steps' scripts run in bash
in order, as the runner runs them, with a stand-in `promptopt` on the PATH."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ACTION = Path(__file__).resolve().parents[2] / ".github" / "actions" / "promptopt" / "action.yml"
FAKE = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$1" in
  gate) exit "$GATE_CODE" ;;
  comment) echo "<!-- promptopt-comment -->"; exit "$COMMENT_CODE" ;;
esac
"""

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the steps are bash")


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


def _expand(value: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    """The `${{ ... }}` expressions the action uses, resolved as the runner would."""
    github = {"server_url": "https://github.com", "repository": "octo/shop", "run_id": "42",
              "token": "ghs_jobToken1234567890"}  # fmt: skip

    def one(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).strip().partition(".")
        if scope == "inputs":
            return inputs[name]
        if scope == "github":
            return github[name]
        return outputs.get(name.removeprefix("gate.outputs."), "")

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def run_action(tmp_path: Path, gate: int, posting: int = 0, **given: str) -> tuple[int, list[str]]:
    """Run the action's steps (`posting`: the comment command's exit code); (the last step's
    exit code, the promptopt commands run)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "promptopt"
    fake.write_text(FAKE)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.txt"
    calls.write_text("")
    action = _action()
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update({k.replace("_", "-"): v for k, v in given.items()})
    inputs["github-token"] = _expand(inputs["github-token"], {}, {})
    outputs: dict[str, str] = {}
    code = 0
    for step in action["runs"]["steps"]:
        output = tmp_path / "output.txt"
        output.write_text("")
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               "CALLS": str(calls), "GATE_CODE": str(gate), "COMMENT_CODE": str(posting),
               "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path)}  # fmt: skip
        env.update({k: _expand(str(v), inputs, outputs) for k, v in step.get("env", {}).items()})
        done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True,
                              text=True, check=False, timeout=60)  # fmt: skip
        code = done.returncode
        if step.get("id") == "gate":
            outputs.update(dict(line.split("=", 1) for line in output.read_text().splitlines()))
            assert code == 0, done.stderr  # the gate step keeps the code for the last step
    return code, calls.read_text().splitlines()


def test_inputs_reach_the_scripts_only_through_the_environment() -> None:
    # An input interpolated into a script would run as shell code (a branch named `$(...)`).
    for step in _action()["runs"]["steps"]:
        assert "${{" not in step["run"], step.get("name")
        assert step["shell"] == "bash"


def test_a_failed_gate_still_comments_then_fails_the_step(tmp_path: Path) -> None:
    code, calls = run_action(tmp_path, gate=1, min_pass_rate="0.9", run_name="gh-1-1")
    assert code == 1
    assert calls == [
        "gate --timeout 600 --run gh-1-1 --baseline blessed --min-pass-rate 0.9",
        "comment --report-url https://github.com/octo/shop/actions/runs/42 --run gh-1-1 "
        "--baseline blessed --min-pass-rate 0.9 --post",
    ]


def test_a_passed_gate_passes_and_missing_shards_exit_2(tmp_path: Path) -> None:
    assert run_action(tmp_path, gate=0)[0] == 0
    assert run_action(tmp_path, gate=2, comment="false")[0] == 2
    assert "--post" not in run_action(tmp_path, gate=0, comment="false")[1][1]


def test_a_comment_that_cannot_be_posted_only_warns(tmp_path: Path) -> None:
    code, calls = run_action(tmp_path, gate=0, posting=1, link_base="https://view.example")
    assert code == 0 and calls[1].endswith("--link-base https://view.example --post")
