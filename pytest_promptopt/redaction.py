"""Secrets out and terminal controls defused: `redact` and `escape_control`, used at every exit.

`redact` removes the credentials the process knows (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`,
the key a client was built with, anything `register_secret` was given) and anything shaped
like one (an `sk-ant-` key, a `Bearer` token, an `x-api-key` header value) from text bound for
the terminal, JUnit XML, the reports, the logs and the database. `escape_control` makes the
control characters of model or user text visible (`\\x1b`) before it is printed.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"
"""What a removed secret is replaced with: safe inside JSON, HTML, Markdown and SQL text."""
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
"""Environment variables whose values are secrets wherever they appear."""
MIN_SECRET_CHARS = 8
"""A shorter registered value is not treated as a secret (it would blank ordinary words)."""

_TOKEN = r"[A-Za-z0-9._~+/-]"


def _any_case(word: str) -> str:
    """`word` in any case as character classes (`[Bb][Ee]...`): unlike `(?i:...)`, it leaves
    the regex engine its quick scan for the first character."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


# Shapes of credentials, whatever their value: an Anthropic key (sk-ant-api03-..., -admin01-,
# -oat01-); a bearer token of at least 8 characters with a digit ("Bearer authentication" is
# prose, not a token); the value of an `x-api-key` header, as text or as a JSON pair. The
# scheme or header name is kept (`keep`), the value replaced.
_SHAPES = (
    r"sk-ant-[A-Za-z0-9_-]{3,}",
    rf"(?P<keep>{_any_case('bearer')}\s+(?={_TOKEN}*\d)"
    rf"|{_any_case('x-api-key')}[\"']?\s*[:=]\s*[\"']?){_TOKEN}{{8,}}=*",
)
_registered: set[str] = set()
_lock = threading.Lock()
_compiled: tuple[frozenset[str], re.Pattern[str]] | None = None


def register_secret(value: str | None) -> None:
    """Treat `value` (an API key, a token) as a secret from now on; short or empty is ignored."""
    if value and len(value) >= MIN_SECRET_CHARS:
        with _lock:
            _registered.add(value)


def known_secrets() -> frozenset[str]:
    """The secret values `redact` removes: the registered ones and the environment's."""
    from_env = (os.environ.get(name) for name in SECRET_ENV)
    found = {v for v in from_env if v and len(v) >= MIN_SECRET_CHARS}
    return frozenset(found | _registered)


def _pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    """One alternation of the literal secrets (longest first) and the credential shapes."""
    global _compiled
    cached = _compiled
    if cached is not None and cached[0] == secrets:
        return cached[1]
    literals = [re.escape(s) for s in sorted(secrets, key=len, reverse=True)]
    pattern = re.compile("|".join([*literals, *_SHAPES]))
    _compiled = (secrets, pattern)
    return pattern


def redact(text: str) -> str:
    """`text` with every known secret and credential-shaped value replaced by `[REDACTED]`."""
    return redactor()(text)


def redactor() -> Callable[[str], str]:
    """`redact` for the secrets known now, for many texts at once (a database write's values)."""
    secrets = known_secrets()
    pattern = _pattern(secrets)

    def redact_now(text: str) -> str:
        if not text or not _may_hold(text, secrets):
            return text
        return pattern.sub(_replace, text)

    return redact_now


def _may_hold(text: str, secrets: frozenset[str]) -> bool:
    """False when `text` surely holds nothing to redact: substring tests run at memory speed,
    the pattern at a tenth of it, and almost no text holds a credential."""
    if "sk-ant-" in text or any(secret in text for secret in secrets):
        return True
    lowered = text.lower()
    return "bearer" in lowered or "x-api-key" in lowered


def _replace(match: re.Match[str]) -> str:
    """The marker, after the header name or scheme the match kept."""
    return (match.group("keep") or "") + REDACTED


def _control_table() -> dict[int, str]:
    """Every C0 and C1 control but newline and tab, DEL, and the bidirectional overrides."""
    codes = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
    codes = [c for c in codes if c not in (0x09, 0x0A)]
    table = {c: f"\\x{c:02x}" for c in codes}
    # Unicode's directional embeddings, overrides and isolates reorder what a terminal shows.
    for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[c] = f"\\u{c:04x}"
    return table


_CONTROLS = _control_table()
_HAS_CONTROL = re.compile("[" + "".join(re.escape(chr(c)) for c in _CONTROLS) + "]")


def escape_control(text: str) -> str:
    """`text` with control characters (all but newline and tab) written out, e.g. `\\x1b`."""
    if not text or _HAS_CONTROL.search(text) is None:
        return text
    return text.translate(_CONTROLS)


def for_terminal(text: str) -> str:
    """Text as it may be printed: secrets redacted, control characters escaped."""
    return escape_control(redact(text))


LOGGERS = ("anthropic", "httpx", "httpcore", "pytest_promptopt")
"""Loggers (and their children) whose records are redacted: the SDK logs request bodies."""


def redact_log_records(loggers: tuple[str, ...] = LOGGERS) -> Callable[[], None]:
    """Redact every record of `loggers` as it is made (message, arguments and traceback), so no
    handler, pytest's captured logs and JUnit's included, sees a secret; returns the undo.

    The record factory runs only for records a logger's level lets through.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith(loggers):
            try:
                message = record.getMessage()
            except Exception:  # a bad format string: logging reports it when it is emitted
                return record
            record.msg, record.args = redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)

    def undo() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return undo
