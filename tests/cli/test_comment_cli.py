"""`promptopt comment`'s usage errors: an unknown run, a link base that is not a web address."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.comment import add_links
from pytest_promptopt.cli.main import main
from pytest_promptopt.reporting.pr_comment import CommentInput


def test_an_unknown_run_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "p.db"), "comment", "--run", "x"])
    assert result.exit_code == 1
    assert "--run 'x': no run with that name or id" in result.output


def test_a_run_is_required(tmp_path: Path) -> None:
    result = CliRunner(env={"PROMPTOPT_RUN_NAME": "", "GITHUB_RUN_ID": ""}).invoke(
        main, ["--db", str(tmp_path / "p.db"), "comment"]
    )
    assert result.exit_code == 2 and "--run NAME|ID is required" in result.output


def test_links_must_be_web_addresses() -> None:
    data = CommentInput.__new__(CommentInput)
    with pytest.raises(click.BadParameter, match="--link-base 'javascript:alert"):
        add_links(data, "javascript:alert(1)", None)
    with pytest.raises(click.BadParameter, match="--report-url 'ftp://x'"):
        add_links(data, None, "ftp://x")
