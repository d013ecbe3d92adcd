"""`promptopt comment --post`'s sticky comment against a loopback stand-in for the GitHub API."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_promptopt.cli.github_comment import post_comment, pr_number
from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.reporting.pr_comment import MARKER
from tests.support.github_api import REPO, TOKEN, FakeGitHub, github, github_env

__all__ = ["github"]  # the fixture


def test_the_first_post_creates_the_comment_and_the_second_updates_it(
    github: FakeGitHub, tmp_path: Path
) -> None:
    # Somebody else's comments are there already, more than one page of them.
    github.comments = [{"id": i, "body": f"looks good {i}"} for i in range(1, 131)]
    env = github_env(tmp_path, github.url)
    first = post_comment(f"{MARKER}\nfirst verdict", MARKER, env=env)
    second = post_comment(f"{MARKER}\nsecond verdict", MARKER, env=env)
    assert first is not None and second is not None
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id == second.comment_id == 1030
    writes = [(m, p) for m, p, _, _ in github.requests if m != "GET"]
    assert writes == [
        ("POST", f"/repos/{REPO}/issues/7/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/1030"),
    ]
    ours = [c for c in github.comments if c["body"].startswith(MARKER)]
    assert [c["body"] for c in ours] == [f"{MARKER}\nsecond verdict"]
    assert {auth for _, _, auth, _ in github.requests} == {f"Bearer {TOKEN}"}
    pages = [p for m, p, _, _ in github.requests if m == "GET"]
    assert len(pages) == 4 and pages[1].endswith("page=2")  # every page is read, twice


def test_the_token_never_shows_in_an_error(github: FakeGitHub, tmp_path: Path) -> None:
    github.status = 403
    with pytest.raises(PromptOptError) as raised:
        post_comment(f"{MARKER}\nx", MARKER, env=github_env(tmp_path, github.url))
    message = str(raised.value)
    assert "403 Resource not accessible by integration" in message
    assert "pull-requests: write" in message and TOKEN not in message


def test_not_a_pull_request_posts_nothing(github: FakeGitHub, tmp_path: Path) -> None:
    env = github_env(tmp_path, github.url, event={"ref": "refs/heads/main"})
    assert post_comment(f"{MARKER}\nx", MARKER, env=env) is None
    assert github.requests == []


def test_a_missing_variable_is_named(tmp_path: Path) -> None:
    env = github_env(tmp_path, "http://127.0.0.1:9")
    del env["GITHUB_TOKEN"]
    with pytest.raises(PromptOptError, match="GITHUB_TOKEN is not set"):
        post_comment("x", MARKER, env=env)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PromptOptError, match="GITHUB_EVENT_PATH"):
        pr_number(bad)
