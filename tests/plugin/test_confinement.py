"""Issue 18, finding 1 through pytest: the rootdir and `promptopt_allowed_paths` bound what a
suite reads; anything else is a collection error naming the file, the field and the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.plugin import default_db, write_suite

CASES = """
cases:
  - id: a
    input: hi
    judge: false
    assert: [{max_chars: 100000}]
"""


def _outside(pytester: pytest.Pytester) -> Path:
    """A folder beside the pytester rootdir (so outside it) holding a prompt file."""
    folder = pytester.path.parent / f"{pytester.path.name}-shared"
    folder.mkdir()
    (folder / "prompt.txt").write_text("You are a shared prompt.\n")
    return folder


def test_environ_and_files_outside_the_rootdir_are_collection_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-must-never-be-sent-0123456789")
    shared = _outside(pytester)
    pytester.makeini("[pytest]\npromptopt_model = simulated\n")
    # Collected in file-name order: absolute, environ, passwd.
    write_suite(pytester, "environ", "prompt: /proc/self/environ\n" + CASES)
    write_suite(pytester, "passwd", "prompt: ../../../../../../../../etc/passwd\n" + CASES)
    write_suite(pytester, "absolute", f"prompt: {shared / 'prompt.txt'}\n" + CASES)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            f"*absolute.promptopt.yaml: field 'prompt': prompt file '{shared / 'prompt.txt'}' "
            f"resolves to {shared.resolve() / 'prompt.txt'}, outside the folders*",
            "*environ.promptopt.yaml: field 'prompt': prompt file '/proc/self/environ' resolves "
            "to /proc/*/environ, outside the folders suites may read (*); move the file under "
            "the rootdir, or add its folder to promptopt_allowed_paths in the ini file",
            "*passwd.promptopt.yaml: field 'prompt': prompt file '../../../../../../../../etc/"
            "passwd' resolves to /etc/passwd, outside the folders*",
        ]
    )
    out = result.stdout.str()
    assert "must-never-be-sent" not in out and "root:x:0:0" not in out
    assert not default_db(pytester).exists()  # nothing ran, nothing was recorded


def test_promptopt_allowed_paths_lets_a_suite_read_a_folder_outside(
    pytester: pytest.Pytester,
) -> None:
    shared = _outside(pytester)
    relative = Path("..") / shared.name
    write_suite(pytester, "shared", f"prompt: {shared / 'prompt.txt'}\n" + CASES)
    pytester.makeini(
        f"[pytest]\npromptopt_model = simulated\npromptopt_allowed_paths =\n    {relative}\n"
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    # A folder that does not exist is a usage error naming the setting and the fix.
    pytester.makeini("[pytest]\npromptopt_model = simulated\npromptopt_allowed_paths = nowhere\n")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*promptopt: promptopt_allowed_paths (ini): 'nowhere' is not a folder "
            "(looked for *nowhere)*"
        ]
    )
