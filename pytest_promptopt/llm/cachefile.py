"""The reviewable cache file: `llm_calls` entries as sorted JSONL, one entry a line, verified.

`promptopt cache export FILE` writes it, `promptopt cache import FILE` loads it into a database,
and `--promptopt-cache-file FILE` makes the response cache look answers up in it first, so CI
replays from a text file committed next to the suites. A line holds the request hash, the
sample index, model, role, request, response, tokens, cost and latency, with sorted keys; lines
are sorted by request hash, so the same cache always gives the same file and a pull request
shows exactly what changed.

`read` (the one reader, for both the import and the flag) trusts no key: each entry's key is
recomputed from its `request` and `sample` with `request_hash`, the function the service keys
the cache with, so an answer cannot be moved to another request's entry; and a key may appear
on one line only (always, even when both lines agree: the exporter never writes two, and a
reviewer reading one line must know it is the only answer for its request). The export scans
every value for credentials (key-shaped strings, bearer tokens, the environment's own key), not
property names, and names each entry it refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_promptopt.errors import ConfigError
from pytest_promptopt.llm.requests import request_hash

FIELDS = (
    "request_hash",
    "sample",
    "model",
    "requested_model",
    "role",
    "request",
    "response",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
)
"""The fields of one entry (an `llm_calls` row less its id, run, cache tokens and timestamp)."""
OPTIONAL = {"requested_model": None, "latency_ms": 0.0}
"""Fields a line may leave out, with the value it then has."""

RECOVERABLE_SAMPLES = 256
"""Rows recorded before `llm_calls.sample` existed: the samples tried to find a row's index."""

_ANTHROPIC_KEY = re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"Bearer\s+([A-Za-z0-9._~+/=-]{16,})")
_PLACEHOLDER = re.compile(
    r"your|token|here|example|placeholder|redacted|dummy|fake|xxxx|\.\.\.", re.I
)
_HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_LISTED = 20
"""Refused entries named in one export error."""


class CacheFileError(ConfigError):
    """A cache file that cannot be read or written; the message names the file and line."""


def sample_of(row: dict[str, Any]) -> int | None:
    """A row's sample index: its own, else the one its key was made with (None: no match)."""
    if row.get("sample") is not None:
        return int(row["sample"])
    # request_hash dumps {"request": ..., "sample": N} with sorted keys: the prefix is shared.
    prefix = json.dumps({"request": row["request"], "sample": 0}, sort_keys=True, default=str)
    head = hashlib.sha256(prefix[: -len("0}")].encode())
    for sample in range(RECOVERABLE_SAMPLES):
        hasher = head.copy()
        hasher.update(f"{sample}}}".encode())
        if hasher.hexdigest() == row["request_hash"]:
            return sample
    return None


def entry_of(row: dict[str, Any]) -> dict[str, Any]:
    """The exported entry of an `llm_calls` row: its reviewable fields only."""
    entry = {name: row.get(name, OPTIONAL.get(name)) for name in FIELDS}
    entry["sample"] = sample_of(row)
    return entry


@dataclass(frozen=True)
class Finding:
    """Where a value that looks like a credential is (a JSON path) and a hint of it."""

    path: str
    hint: str


def secret_in(value: Any, path: str = "") -> Finding | None:
    """The first value that looks like a credential (an Anthropic key, a bearer token, the
    environment's own key or token), or None. Property names are never flagged, and obvious
    placeholders (`Bearer <your-token-here>`, `sk-ant-...`) are not credentials."""
    env_secrets = {
        os.environ[name]
        for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
        if len(os.environ.get(name, "")) >= 8
    }
    return _find_secret(value, path, env_secrets)


def _find_secret(value: Any, path: str, env_secrets: set[str]) -> Finding | None:
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_secret(item, f"{path}.{key}" if path else str(key), env_secrets)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_secret(item, f"{path}[{index}]", env_secrets)
            if found is not None:
                return found
    elif isinstance(value, str):
        if any(secret in value for secret in env_secrets):
            return Finding(path or "value", "the environment's API key or auth token")
        hint = _credential_shape(value)
        if hint is not None:
            return Finding(path or "value", hint)
    return None


def _credential_shape(text: str) -> str | None:
    """A hint of a key-shaped or bearer-token-shaped part of `text` that is no placeholder."""
    candidates = [m.group(0) for m in _ANTHROPIC_KEY.finditer(text)]
    candidates += [m.group(1) for m in _BEARER.finditer(text)]
    for token in candidates:
        core = token.removeprefix("sk-ant-")
        if _PLACEHOLDER.search(core) or len(set(core)) < 6:
            continue  # sk-ant-xxxxxxxx..., Bearer YOUR-TOKEN-HERE-PLEASE
        if any(c.isdigit() for c in core) and any(c.isalpha() for c in core):
            return f"{token[:10]}... ({len(token)} characters)"
    return None


def dump_lines(rows: Iterable[dict[str, Any]], allowed: Collection[str] = ()) -> Iterator[str]:
    """The file's lines (no newline): entries sorted by request hash, keys sorted.

    Raises CacheFileError naming every entry (its line, key and the JSON path) that holds
    something that looks like a credential, unless its request hash starts with one of
    `allowed` (`--allow-secret-looking`; never for the environment's own key), and any row
    whose key its request and sample do not give.
    """
    entries = sorted((entry_of(row) for row in rows), key=lambda e: str(e["request_hash"]))
    refused: list[str] = []
    for number, entry in enumerate(entries, start=1):
        key = str(entry["request_hash"])
        if entry["sample"] is None or request_hash(entry["request"], entry["sample"]) != key:
            raise CacheFileError(
                f"cache entry {key} (line {number}): its key is not the hash of its request "
                "and sample; not exported (delete it from llm_calls: "
                f"DELETE FROM llm_calls WHERE request_hash = '{key}')"
            )
        found = secret_in(entry)
        if found is not None:
            is_env = found.hint.startswith("the environment")
            if is_env or not any(key.startswith(prefix) for prefix in allowed):
                refused.append(f"line {number}, key {key}, at {found.path}: {found.hint}")
    if refused:
        listed = refused[:MAX_LISTED] + (
            [f"... and {len(refused) - MAX_LISTED} more"] if len(refused) > MAX_LISTED else []
        )
        raise CacheFileError(
            f"{len(refused)} cache entries hold what looks like a credential; nothing exported:\n  "
            + "\n  ".join(listed)
            + "\ndelete such an entry from llm_calls, or, when the value is no credential (a test "
            "fixture), export it all the same with --allow-secret-looking KEY (its request hash "
            "or a prefix of it, at least 8 characters)"
        )
    for entry in entries:
        yield json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write(path: Path, rows: Iterable[dict[str, Any]], allowed: Collection[str] = ()) -> int:
    """Write the entries of `rows` to `path` (replacing it); returns how many were written."""
    lines = list(dump_lines(rows, allowed))
    temporary = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        raise CacheFileError(f"{path}: cannot write the cache file: {exc.strerror}") from None
    return len(lines)


def read(path: Path) -> list[dict[str, Any]]:
    """The verified entries of a cache file; errors name the file and line (or both lines).

    The one reader of `promptopt cache import` and `--promptopt-cache-file`: a line whose key
    is not the hash of its request and sample, or a key on two lines, is an error.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CacheFileError(
            f"{path}: no such cache file (write one with `promptopt cache export {path}`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CacheFileError(f"{path}: cannot read the cache file: {exc}") from None
    entries: list[dict[str, Any]] = []
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        entry = _parse(path, number, line)
        key = entry["request_hash"]
        if key in lines:
            raise CacheFileError(
                f"{path}:{number}: key {key} is also on line {lines[key]}; a key may have one "
                "entry (delete one of the two lines, or export the cache again)"
            )
        lines[key] = number
        entries.append(entry)
    return entries


def _parse(path: Path, number: int, line: str) -> dict[str, Any]:
    """One line's verified entry, or a CacheFileError naming the file, the line and the fault."""
    where = f"{path}:{number}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CacheFileError(f"{where}: not a JSON object ({exc.msg}); one entry a line") from None
    if not isinstance(entry, dict):
        raise CacheFileError(f"{where}: not a JSON object; one entry a line")
    entry = {**OPTIONAL, **entry}
    missing = [name for name in FIELDS if name not in entry]
    if missing:
        hint = (
            " (a file written before entries kept their sample index: export it again)"
            if "sample" in missing
            else ""
        )
        raise CacheFileError(f"{where}: the entry has no {', '.join(missing)}{hint}")
    problems = _problems(entry)
    if problems:
        raise CacheFileError(f"{where}: {'; '.join(problems)}")
    if entry["model"] != entry["request"].get("model"):
        raise CacheFileError(
            f"{where}: model {entry['model']!r} is not the request's model "
            f"{entry['request'].get('model')!r}"
        )
    if request_hash(entry["request"], entry["sample"]) != entry["request_hash"]:
        raise CacheFileError(
            f"{where}: request_hash {entry['request_hash']} is not the hash of this line's "
            f"request and sample {entry['sample']}: the entry was edited or its request moved "
            "from another entry; refused (export the cache again instead of editing it)"
        )
    return {name: entry[name] for name in FIELDS}


def _problems(entry: dict[str, Any]) -> list[str]:
    """What is wrong with the types of an entry's fields."""
    problems = []
    if not isinstance(entry["request_hash"], str) or not _HASH.match(entry["request_hash"]):
        problems.append("request_hash must be 64 lowercase hex digits")
    sample = entry["sample"]
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        problems.append("sample must be a whole number >= 0")
    for name in ("model", "role"):
        if not isinstance(entry[name], str):
            problems.append(f"{name} must be a string")
    if entry["requested_model"] is not None and not isinstance(entry["requested_model"], str):
        problems.append("requested_model must be a string or null")
    for name in ("request", "response"):
        if not isinstance(entry[name], dict):
            problems.append(f"{name} must be an object")
    for name in ("input_tokens", "output_tokens"):
        if not isinstance(entry[name], int) or entry[name] < 0:
            problems.append(f"{name} must be a whole number >= 0")
    for name, nullable in (("cost_usd", True), ("latency_ms", False)):
        value = entry[name]
        if value is None and nullable:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            problems.append(f"{name} must be a number >= 0" + (" or null" if nullable else ""))
    return problems
