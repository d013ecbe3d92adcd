"""`--promptopt-cache-file`: CI replays from a committed JSONL file, with no network and no key."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from tests.support.plugin import (
    SUPPORT,
    default_db,
    outcomes_by_case,
    summary_lines,
    support_model,
    write_suite,
)

MODEL = "claude-haiku-4-5"
EXPECTED = {
    "support.promptopt.yaml::support[penguins]": "FAILED",
    "support.promptopt.yaml::support[refund]": "PASSED",
}


def test_replay_from_a_cache_file_needs_no_network_and_no_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "support", SUPPORT)
    with support_model().serve() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-SECRET123")
        recorded = pytester.runpytest(f"--promptopt-model={MODEL}", "-rA")
    assert outcomes_by_case(recorded) == EXPECTED
    assert server.request_count == 4

    cache_file = pytester.path / "suites.cache.jsonl"
    exported = CliRunner().invoke(
        main, ["--db", str(default_db(pytester)), "cache", "export", str(cache_file)]
    )
    assert exported.exit_code == 0, exported.output
    assert "sk-ant-test-SECRET123" not in cache_file.read_text()

    # A fresh checkout: no database, no key, no server; the file is all there is.
    default_db(pytester).unlink()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    replay = pytester.runpytest(
        f"--promptopt-model={MODEL}",
        "--promptopt-cache=replay",
        f"--promptopt-cache-file={cache_file.name}",  # under the rootdir
        "-rA",
    )
    assert outcomes_by_case(replay) == EXPECTED
    line = summary_lines(replay)["support"]
    assert (line["calls"], line["hits"]) == ("0", "4")

    # The ini key does the same.
    pytester.makeini(f"[pytest]\npromptopt_cache_file = {cache_file.name}\n")
    again = pytester.runpytest(f"--promptopt-model={MODEL}", "--promptopt-cache=replay", "-rA")
    assert outcomes_by_case(again) == EXPECTED


def test_a_broken_cache_file_is_an_error_naming_its_line(pytester: pytest.Pytester) -> None:
    write_suite(pytester, "support", SUPPORT)
    (pytester.path / "cache.jsonl").write_text("{oops\n")
    flags = ("--promptopt-cache=replay", "--promptopt-cache-file=cache.jsonl")
    result = pytester.runpytest(f"--promptopt-model={MODEL}", *flags)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # refused before any case runs
    result.stderr.fnmatch_lines([f"*{pytester.path / 'cache.jsonl'}:1: not a JSON object*"])
