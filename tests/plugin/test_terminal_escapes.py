"""Issue 18, finding 5: model and user text reaches the terminal with its controls written out."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from tests.support.plugin import default_db, write_suite

ANSWER = "Done\x1b]0;pwned\x07 and then\x1bc a reset\r\x9b2J"
APP = f"""
def answer(prompt, case, client):
    return {ANSWER!r}
"""
# YAML's double-quoted `\\e` is ESC and `\\a` is BEL: a suite name, a case id and the prompt's
# first line that try to save the cursor, reset the terminal and retitle it.
SUITE = r"""
name: "esc\e7"
prompt: "You are a bot\e]0;title\a that answers."
target: escapes_app:answer
cases:
  - id: "evil\ec\a"
    input: Hello
    judge: false
    assert: [{contains: never-there}]
  - id: fine
    input: Hello
    judge: false
    assert: [{contains: Done}]
"""
RAW = ("\x1b", "\x07", "\x9b", "\r")


def _no_raw_controls(text: str) -> None:
    found = sorted({c for c in text if c in RAW})
    assert not found, f"raw control characters {found} in:\n{text!r}"


def test_answers_ids_names_and_prompts_are_printed_escaped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(escapes_app=APP)
    pytester.makeini("[pytest]\npromptopt_model = simulated\npythonpath = .\n")
    write_suite(pytester, "esc", SUITE)
    for _ in range(2):  # two runs, for `promptopt diff`
        result = pytester.runpytest("-v", "-p", "no:randomly")
        result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    _no_raw_controls(out)
    # The item's name, its failure text (the answer) and the short summary.
    assert "esc\\x1b7[evil\\x1bc\\x07] FAILED" in out
    assert "answer: Done\\x1b]0;pwned\\x07 and then\\x1bc a reset\\x0d\\x9b2J" in out
    # The terminal summary: the suite line and the prompt it judged.
    assert "esc\\x1b7: 2 cases" in out
    assert "prompt: You are a bot\\x1b]0;title\\x07 that answers." in out

    db = ["--db", str(default_db(pytester))]
    runner = CliRunner()
    for command in (["show", "latest"], ["runs"], ["diff", "1", "2"]):
        shown = runner.invoke(main, [*db, *command])
        assert shown.exit_code == 0, shown.output
        _no_raw_controls(shown.output)
        assert "esc\\x1b7" in shown.output, command
    show = runner.invoke(main, [*db, "show", "latest"]).output
    assert "evil\\x1bc\\x07" in show and "You are a bot\\x1b]0;title\\x07 that answers." in show
    assert "evil\\x1bc\\x07" in runner.invoke(main, [*db, "diff", "1", "2"]).output
    # --json is JSON's own escaping: the data as recorded, nothing raw on the terminal.
    as_json = runner.invoke(main, [*db, "show", "latest", "--json"]).output
    _no_raw_controls(as_json)
    assert "evil\\u001bc\\u0007" in as_json
