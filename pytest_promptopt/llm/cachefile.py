"""The reviewable cache file: `llm_calls` entries as sorted JSONL, one entry a line.

`promptopt cache export FILE` writes it, `promptopt cache import FILE` loads it into a database,
and `--promptopt-cache-file FILE` makes the response cache look answers up in it first, so CI
replays from a text file committed next to the suites. A line holds the request hash, model,
role, request, response, tokens and cost, with sorted keys; lines are sorted by request hash, so
the same cache always gives the same file and a pull request shows exactly what changed.
Requests never hold headers, and every entry is scanned for credentials all the same.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pytest_promptopt.errors import ConfigError

FIELDS = (
    "request_hash",
    "model",
    "role",
    "request",
    "response",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
"""The fields of one entry (an `llm_calls` row less its id, run, latency and timestamp)."""

_SECRET_KEYS = frozenset({"x-api-key", "authorization", "api_key", "auth_token", "headers"})
_SECRET_VALUE = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}|Bearer\s+\S{8,}")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class CacheFileError(ConfigError):
    """A cache file that cannot be read or written; the message names the file and line."""


def entry_of(row: dict[str, Any]) -> dict[str, Any]:
    """The exported entry of an `llm_calls` row: its reviewable fields only."""
    return {name: row.get(name) for name in FIELDS}


def secret_in(value: Any, path: str = "") -> str | None:
    """Where a credential appears in an entry (a header-like key or a key-like value), or None."""
    env_secrets = {
        os.environ[name]
        for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
        if len(os.environ.get(name, "")) >= 8
    }
    return _find_secret(value, path, env_secrets)


def _find_secret(value: Any, path: str, env_secrets: set[str]) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).lower() in _SECRET_KEYS:
                return here
            found = _find_secret(item, here, env_secrets)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_secret(item, f"{path}[{index}]", env_secrets)
            if found is not None:
                return found
    elif isinstance(value, str) and (
        _SECRET_VALUE.search(value) or any(s in value for s in env_secrets)
    ):
        return path or "value"
    return None


def dump_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The file's lines (no newline): entries sorted by request hash, keys sorted.

    Raises CacheFileError, naming the entry, when one holds something that looks like a
    credential: such an entry must never reach a file meant to be committed.
    """
    entries = sorted((entry_of(row) for row in rows), key=lambda e: str(e["request_hash"]))
    for entry in entries:
        where = secret_in(entry)
        if where is not None:
            raise CacheFileError(
                f"cache entry {entry['request_hash']} holds what looks like a credential at "
                f"{where}; not exported (delete that entry from llm_calls first)"
            )
        yield json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write the entries of `rows` to `path` (replacing it); returns how many were written."""
    lines = list(dump_lines(rows))
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        raise CacheFileError(f"{path}: cannot write the cache file: {exc.strerror}") from None
    return len(lines)


def read(path: Path) -> list[dict[str, Any]]:
    """The entries of a cache file, checked line by line; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CacheFileError(
            f"{path}: no such cache file (write one with `promptopt cache export {path}`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CacheFileError(f"{path}: cannot read the cache file: {exc}") from None
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            entries.append(_parse(path, number, line))
    return entries


def _parse(path: Path, number: int, line: str) -> dict[str, Any]:
    """One line's entry, or a CacheFileError naming the file, the line and what is wrong."""
    where = f"{path}:{number}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CacheFileError(f"{where}: not a JSON object ({exc.msg}); one entry a line") from None
    if not isinstance(entry, dict):
        raise CacheFileError(f"{where}: not a JSON object; one entry a line")
    missing = [name for name in FIELDS if name not in entry]
    if missing:
        raise CacheFileError(f"{where}: the entry has no {', '.join(missing)}")
    problems = []
    if not isinstance(entry["request_hash"], str) or not _HASH.match(entry["request_hash"]):
        problems.append("request_hash must be 64 lowercase hex digits")
    for name in ("model", "role"):
        if not isinstance(entry[name], str):
            problems.append(f"{name} must be a string")
    for name in ("request", "response"):
        if not isinstance(entry[name], dict):
            problems.append(f"{name} must be an object")
    for name in ("input_tokens", "output_tokens"):
        if not isinstance(entry[name], int) or entry[name] < 0:
            problems.append(f"{name} must be a whole number >= 0")
    cost = entry["cost_usd"]
    if cost is not None and (not isinstance(cost, int | float) or isinstance(cost, bool)):
        problems.append("cost_usd must be a number or null")
    if problems:
        raise CacheFileError(f"{where}: {'; '.join(problems)}")
    return {name: entry[name] for name in FIELDS}
