"""A real model with no credentials and no cached answer: every item errors with one clear line.

Nothing pre-checks environment variables: the SDK looks for its credentials and its own error
is shown.
"""

from __future__ import annotations

import re

import pytest

from tests.support.plugin import SUPPORT_PROMPT, write_suite

SUITE = f"""
name: support
prompt: "{SUPPORT_PROMPT}"
cases:
  - id: refund
    input: I want a refund for order 123
    expected: Apologises and states the 30-day policy
  - id: weather
    input: What's the weather like?
  - id: checked
    input: Hello
    judge: false
    assert: [{{max_chars: 100}}]
"""


def _error_sections(result: pytest.RunResult) -> dict[str, list[str]]:
    """`item name -> body lines` of each `ERROR at setup of ...` section."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.outlines:
        if m := re.match(r"^_+ ERROR at setup of (\S+) _+$", line):
            current = sections.setdefault(m.group(1), [])
        elif re.match(r"^[=_]{3,}", line):
            current = None
        elif current is not None and line.strip():
            current.append(line)
    return sections


def test_missing_key_errors_every_item_with_one_line(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    write_suite(sim, "support", SUITE)
    sim.makepyfile(test_after="def test_after():\n    assert True\n")
    # The flag beats the ini's `promptopt_model = simulated`.
    result = sim.runpytest("--promptopt-model=claude-haiku-4-5", "-rA")
    # Errors, not failures; the session went on to the last item.
    result.assert_outcomes(errors=3, passed=1)
    sections = _error_sections(result)
    assert set(sections) == {"support[refund]", "support[weather]", "support[checked]"}
    for body in sections.values():
        assert len(body) == 1, body
        # One line naming the cause; the cause itself is said once, in the promptopt section.
        assert body[0] == (
            "promptopt error: not run: no credentials and no cached response (the session "
            "error in the promptopt section says more)"
        )
    result.stdout.fnmatch_lines(
        [
            "PASSED test_after.py::test_after",
            "ERROR support.promptopt.yaml::support[[]refund[]] - promptopt error: not run: no *",
            "ERROR support.promptopt.yaml::support[[]weather[]] - promptopt error: not run: *",
            "ERROR support.promptopt.yaml::support[[]checked[]] - promptopt error: not run: *",
        ]
    )
    # The SDK's own message, then how to go on (credentials, replay or offline), once.
    session_error = (
        "session error: no credentials and no cached response; the Anthropic SDK says: Could "
        "not resolve authentication method. Expected one of api_key, auth_token, or credentials "
        "to be set. Or for the `Authorization` header to be explicitly omitted. Set "
        "ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN (or an SDK profile), replay recorded answers "
        "with --promptopt-cache=replay, or run offline with --promptopt-model=simulated "
        "(3 items not run)"
    )
    assert result.outlines.count(session_error) == 1
    # Every item is accounted for in the promptopt section.
    # Errors have no score: the suite says so instead of a mean of 0.00.
    result.stdout.fnmatch_lines(
        [
            "support: 3 cases, no score (3 cases errored), pass rate 0% (0 passed, 3 errors), "
            "calls 0*"
        ]
    )


def test_a_broken_sdk_profile_is_the_sdks_own_error(
    sim: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK refuses to build a client for a profile it cannot find: its words, one line."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(sim.path / "no-config"))
    monkeypatch.setenv("ANTHROPIC_PROFILE", "ci-bot")
    write_suite(sim, "support", SUITE)
    result = sim.runpytest("--promptopt-model=claude-haiku-4-5")
    result.assert_outcomes(errors=3)
    config = sim.path / "no-config" / "configs" / "ci-bot.json"
    result.stdout.fnmatch_lines(
        [
            "session error: no credentials and no cached response; "
            f"the Anthropic SDK says: Config file not found at {config} (profile 'ci-bot')*"
            "or run offline with --promptopt-model=simulated (3 items not run)"
        ]
    )
