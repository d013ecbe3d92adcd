"""Issue 18, findings 2 and 5: one redactor for secrets, one escaper for terminal controls."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pytest_promptopt import redaction
from pytest_promptopt.errors import LLMError, SuiteError
from pytest_promptopt.redaction import (
    REDACTED,
    escape_control,
    for_terminal,
    redact,
    redact_log_records,
    register_secret,
)
from pytest_promptopt.storage import Database, transaction

KEY = "sk-ant-api03-Zq9_redaction-test-KEY-0123456789"


@pytest.fixture(autouse=True)
def _no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in redaction.SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(redaction, "_registered", set())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"invalid credential: Bearer {KEY}", f"invalid credential: Bearer {REDACTED}"),
        (f"key {KEY}.", f"key {REDACTED}."),
        ("Authorization: Bearer eyJhbGciOi.J9x1.sig", f"Authorization: Bearer {REDACTED}"),
        ('{"x-api-key": "abcdefgh12"}', f'{{"x-api-key": "{REDACTED}"}}'),
        ("X-Api-Key: s3cr3tvalue", f"X-Api-Key: {REDACTED}"),
        # prose and placeholders stay as written
        ("Bearer authentication is what the docs describe", None),
        ("send `Authorization: Bearer <your-token-here>`", None),
        ("keys start with sk-ant-", None),
        ("", None),
    ],
)
def test_shapes_of_credentials_are_redacted(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


def test_the_environment_and_registered_secrets_are_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "plain-key-without-shape-42")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok.9d8f7a6b")
    register_secret("client-built-with-this-one")
    register_secret("short")  # under MIN_SECRET_CHARS: not a secret, ordinary words survive
    text = "a plain-key-without-shape-42 b tok.9d8f7a6b c client-built-with-this-one short"
    assert redact(text) == f"a {REDACTED} b {REDACTED} c {REDACTED} short"
    assert redact(redact(text)) == redact(text)


def test_every_plugin_error_is_redacted_at_its_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-1234567890")
    error = LLMError(f"HTTP 401 invalid credential: Bearer {KEY} env-key-1234567890", status=401)
    assert KEY not in str(error) and "env-key-1234567890" not in str(error)
    assert str(error) == f"HTTP 401 invalid credential: Bearer {REDACTED} {REDACTED}"
    assert KEY not in str(SuiteError(f"prompt says {KEY}", path="x"))


def test_control_characters_are_written_out_but_newline_and_tab() -> None:
    answer = "Sure\x1b]0;pwned\x07 done\x1bc\r\nnext\tline \x9b31m \u202eevil \x7f"
    shown = escape_control(answer)
    assert shown == "Sure\\x1b]0;pwned\\x07 done\\x1bc\\x0d\nnext\tline \\x9b31m \\u202eevil \\x7f"
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in shown)
    assert escape_control(shown) == shown
    assert escape_control("plain text, ünïcode") == "plain text, ünïcode"
    assert for_terminal(f"\x1bc{KEY}") == f"\\x1bc{REDACTED}"


def _record_secret_call(url: str) -> tuple[str, str]:
    """Store one call whose request and response hold secrets; read its columns back raw."""
    from sqlalchemy import text

    db = Database(url)
    db.ensure_schema()
    with transaction(db) as repos:
        repos.llm_calls.add(
            {
                "request_hash": "h" * 64,
                "model": "claude-haiku-4-5",
                "role": "target",
                "request": {"messages": [{"role": "user", "content": f"my key is {KEY}"}]},
                "response": {"content": [{"type": "text", "text": "auth-token-abcdef123"}]},
                "input_tokens": 1,
                "output_tokens": 1,
                "cost_usd": None,
                "latency_ms": 1.0,
                "run_id": None,
            }
        )
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT request, response FROM llm_calls")).one()
    db.dispose()
    return str(row[0]), str(row[1])


def test_no_secret_reaches_an_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage layer's last door: text and JSON values lose their secrets on the way in."""
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "auth-token-abcdef123")
    request, response = _record_secret_call(f"sqlite:///{tmp_path / 'r.db'}")
    assert f"my key is {REDACTED}" in request and REDACTED in response
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert KEY.encode() not in raw and b"auth-token-abcdef123" not in raw


def test_no_secret_reaches_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg binds JSON as its own `Json` wrapper: redacted all the same."""
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "auth-token-abcdef123")
    request, response = _record_secret_call(pg_url)
    assert KEY not in request and f"my key is {REDACTED}" in request
    assert "auth-token-abcdef123" not in response and REDACTED in response


def test_log_records_of_the_sdk_are_redacted_as_they_are_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    undo = redact_log_records()
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("anthropic._base_client").debug("Request options: %s", {"k": KEY})
            logging.getLogger("httpcore2.http11").debug("header Bearer %s", KEY)
            logging.getLogger("myapp").debug("left alone: %s", KEY)
            try:
                raise ValueError(f"boom {KEY}")
            except ValueError:
                logging.getLogger("anthropic").exception("failed")
    finally:
        undo()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:2] == [f"Request options: {{'k': '{REDACTED}'}}", f"header Bearer {REDACTED}"]
    assert messages[2] == f"left alone: {KEY}"  # the team's own loggers are theirs
    assert (
        KEY not in caplog.records[3].exc_text and f"boom {REDACTED}" in caplog.records[3].exc_text
    )
    assert KEY not in caplog.text.replace(f"left alone: {KEY}", "")

    before = logging.getLogRecordFactory()
    undo = redact_log_records()
    assert logging.getLogRecordFactory() is not before
    undo()  # the factory that was there before is back
    assert logging.getLogRecordFactory() is before


def test_a_results_explanation_is_safe_to_print() -> None:
    """`result.explain()` goes to pytest and to a team's own `assert ..., result.explain()`."""
    from pytest_promptopt.evaluation.results import CaseResult, SampleResult
    from pytest_promptopt.protocol import Verdict, VerdictInput

    verdict = VerdictInput.model_validate(
        {"functionality": 1, "safety": 5, "consistency": 5, "edge_case_handling": 5,
         "reasoning": "It printed\x1b]0;pwned\x07 a title"}
    )  # fmt: skip
    result = CaseResult(suite="s\x1bc", case_id="c", threshold=0.7)
    result.samples = [
        SampleResult(
            sample=0,
            response=f"Here\x1bc is {KEY}",
            overall_score=0.1,
            verdict=Verdict.of(verdict),
        )
    ]
    text = result.explain()
    assert text.startswith("s\\x1bc[c] FAILED")
    assert "judge: It printed\\x1b]0;pwned\\x07 a title" in text
    assert f"answer: Here\\x1bc is {REDACTED}" in text
    assert "\x1b" not in text and "\x07" not in text and KEY not in text
