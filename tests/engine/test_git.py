"""The git commit and branch a run records (for `promptopt view`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_promptopt.engine.git import git_info

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        monkeypatch.delenv(name, raising=False)


@needs_git
def test_a_repository_gives_its_commit_and_branch(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "trunk")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
         "--allow-empty", "-m", "x")  # fmt: skip
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_info(tmp_path) == {"commit": head, "branch": "trunk"}
    _git(tmp_path, "checkout", "-q", "--detach")
    assert git_info(tmp_path) == {"commit": head, "branch": ""}


@needs_git
def test_outside_a_repository_there_is_none(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None


def test_github_actions_names_them_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    assert git_info(tmp_path) == {"commit": "abc123", "branch": "main"}
