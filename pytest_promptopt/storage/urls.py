"""Database URLs: parsed once, checked with errors that say the fix, never shown with a password."""

from __future__ import annotations

import re
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pytest_promptopt.errors import DatabaseError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# Query arguments libpq reads as integers (a bad one fails only at connect, with the password
# in the driver's frames): checked here, before anything connects.
_PG_INTEGER_ARGS = (
    "port", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "prepare_threshold",
)  # fmt: skip
# scheme :// user : password @ rest, the password running to the LAST '@' (greedy): an
# unescaped '@' in it is then masked too.
_USERINFO = re.compile(r"^(?P<scheme>[^:/]+://)(?P<user>[^:/@]*):(?P<password>.*)@(?P<rest>[^@]*)$")
_FIX = "fix --promptopt-db (`promptopt --db`, PROMPTOPT_DB)"


def mask_url(text: str) -> str:
    """A URL as text with anything that may be its password replaced by ***, even unparsable."""
    m = _USERINFO.match(text)
    if m is None:
        return text
    return f"{m['scheme']}{m['user']}:***@{m['rest']}"


def hide_password(url: str) -> str:
    """A database URL with any password replaced by *** (SQLAlchemy's own rendering)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return mask_url(url)
    if parsed.host and "@" in parsed.host:
        return mask_url(url)
    return parsed.render_as_string(hide_password=True)


def secrets_of(url: URL) -> list[str]:
    """The password of a URL in the spellings a message may carry it (plain, percent-encoded)."""
    password = url.password
    if not password:
        return []
    text = str(password)
    return sorted({text, quote(text, safe="")}, key=len, reverse=True)


def scrub(message: str, secrets: list[str]) -> str:
    """`message` with every secret replaced by ***."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def _bad(text: str, what: str) -> DatabaseError:
    return DatabaseError(f"the database URL {mask_url(text)} {what}; {_FIX}")


def parse_database_url(text: str) -> URL:
    """Parse and check a database URL; a `DatabaseError` (no password in it) when it is unusable."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise _bad(
            text, "is not an SQLAlchemy URL (e.g. sqlite:///path/to.db or "
            "postgresql+psycopg://user:password@host:5432/db)"
        ) from None  # fmt: skip
    except ValueError:
        # SQLAlchemy's int() of the port; its message may quote part of the password.
        raise _bad(
            text, "has a port that is not a number (or an unescaped '@' or ':' in the "
            "password: write '@' as %40 and ':' as %3A)"
        ) from None  # fmt: skip
    if url.host and "@" in url.host:
        raise _bad(text, "has an unescaped '@' in its user or password: write it as %40")
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise _bad(
            text, f"names the database {backend!r}, which pytest-promptopt does not support "
            "(use sqlite:///path/to.db or postgresql+psycopg://user@host/db)"
        ) from None  # fmt: skip
    if backend == "postgresql":
        for key in _PG_INTEGER_ARGS:
            value = url.query.get(key)
            values = [value] if isinstance(value, str) else list(value or ())
            for item in values:
                if not item.strip().lstrip("-").isdigit():
                    raise _bad(text, f"has {key}={item!r}, which must be a whole number")
    return url


__all__ = ["SUPPORTED_BACKENDS", "hide_password", "mask_url", "parse_database_url", "scrub"]
