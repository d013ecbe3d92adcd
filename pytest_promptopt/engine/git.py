"""The git commit and branch a run was made from, kept in its settings for the viewer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 3.0


def _from_ci() -> dict[str, str] | None:
    """GitHub Actions names the commit and branch itself (a checkout may be detached)."""
    commit = os.environ.get("GITHUB_SHA")
    branch = os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME")
    return {"commit": commit, "branch": branch or ""} if commit else None


def git_info(rootdir: Path | str) -> dict[str, str] | None:
    """`{"commit", "branch"}` of the repository holding `rootdir` (None outside one, or
    without git); a detached HEAD has the branch ''."""
    found = _from_ci()
    if found is not None:
        return found
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
            cwd=rootdir, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        return None
    commit, branch = lines
    return {"commit": commit, "branch": "" if branch == "HEAD" else branch}
