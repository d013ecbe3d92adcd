"""`promptopt cache export` / `import`: the response cache as a sorted JSONL file, no secrets."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from pytest_promptopt.llm import cachefile
from pytest_promptopt.storage import Database, transaction


def _hash(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def _row(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "request_hash": _hash(n),
        "model": "claude-haiku-4-5",
        "role": "target" if n % 2 else "judge",
        "request": {"model": "m", "messages": [{"role": "user", "content": f"q{n}"}]},
        "response": {"content": [{"type": "text", "text": f"a{n}"}], "stop_reason": "end_turn"},
        "input_tokens": 10 + n,
        "output_tokens": 5,
        "cost_usd": None if n == 3 else 0.001 * n,
        "latency_ms": 100.0 * n,
        "run_id": 1,
        **extra,
    }


def _fill(path: Path, rows: list[dict[str, Any]]) -> str:
    url = f"sqlite:///{path}"
    db = Database(url)
    db.ensure_schema()
    with transaction(db) as repos:
        for row in rows:
            repos.llm_calls.add(row)
    db.dispose()
    return url


def _plant(path: Path, request_hash: str, columns: dict[str, Any]) -> None:
    """Write JSON columns of one row past the plugin (whose writes are redacted), as a
    database recorded before redaction existed may hold them."""
    con = sqlite3.connect(path)
    with con:
        for column, value in columns.items():
            con.execute(
                f"UPDATE llm_calls SET {column} = ? WHERE request_hash = ?",
                (json.dumps(value), request_hash),
            )
    con.close()


def _entries(url: str) -> list[dict[str, Any]]:
    db = Database(url)
    try:
        with transaction(db) as repos:
            return repos.llm_calls.entries()
    finally:
        db.dispose()


def test_export_is_sorted_deterministic_and_imports_back(tmp_path: Path) -> None:
    url = _fill(tmp_path / "a.db", [_row(n) for n in (4, 1, 3, 2)])
    runner = CliRunner()
    first, again = tmp_path / "cache.jsonl", tmp_path / "again.jsonl"
    result = runner.invoke(main, ["--db", url, "cache", "export", str(first)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote 4 cache entries to {first}\n"
    runner.invoke(main, ["--db", url, "cache", "export", str(again)])
    assert first.read_bytes() == again.read_bytes()
    lines = first.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["request_hash"] for e in entries] == sorted(_hash(n) for n in (1, 2, 3, 4))
    assert all(list(e) == sorted(e) for e in entries)  # keys sorted too
    assert set(entries[0]) == set(cachefile.FIELDS)  # no latency, run or timestamp
    assert {e["request_hash"]: e["cost_usd"] for e in entries}[_hash(3)] is None

    other = f"sqlite:///{tmp_path / 'b.db'}"
    result = runner.invoke(main, ["--db", other, "cache", "import", str(first)])
    assert result.exit_code == 0, result.output
    assert result.output == f"imported 4 new cache entries from {first} (0 already cached)\n"
    assert _entries(other) == _entries(url)
    # Importing again changes nothing.
    result = runner.invoke(main, ["--db", other, "cache", "import", str(first)])
    assert result.output == f"imported 0 new cache entries from {first} (4 already cached)\n"
    assert len(_entries(other)) == 4


@pytest.mark.parametrize(
    "leak",
    [
        {"request": {"model": "m", "messages": [], "headers": {"x-api-key": "abc"}}},
        {"response": {"content": [{"type": "text", "text": "key sk-ant-api03-abcdefghijkl"}]}},
    ],
)
def test_export_refuses_an_entry_that_holds_a_credential(
    tmp_path: Path, leak: dict[str, Any]
) -> None:
    url = _fill(tmp_path / "a.db", [_row(1), _row(2)])
    _plant(tmp_path / "a.db", _hash(2), leak)
    out = tmp_path / "cache.jsonl"
    result = CliRunner().invoke(main, ["--db", url, "cache", "export", str(out)])
    assert result.exit_code == 1
    assert f"cache entry {_hash(2)} holds what looks like a credential" in result.output
    assert not out.exists()


def test_export_refuses_the_environment_key_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-123456789")
    url = _fill(tmp_path / "a.db", [_row(1)])
    _plant(tmp_path / "a.db", _hash(1), {"response": {"echo": "tok-123456789"}})
    result = CliRunner().invoke(main, ["--db", url, "cache", "export", str(tmp_path / "c")])
    assert "holds what looks like a credential at response.echo" in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not a JSON object (Expecting property name enclosed in double quotes)"),
        ("[1]", "not a JSON object; one entry a line"),
        ('{"request_hash": "x"}', "the entry has no model, role, request, response"),
    ],
)
def test_import_errors_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps(cachefile.entry_of(_row(1)))
    path = tmp_path / "cache.jsonl"
    path.write_text(f"{good}\n\n{line}\n")
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = CliRunner().invoke(main, ["--db", url, "cache", "import", str(path)])
    assert result.exit_code == 1
    assert f"Error: {path}:3: {message}" in result.output


def test_import_checks_every_field(tmp_path: Path) -> None:
    bad = {**cachefile.entry_of(_row(1)), "request_hash": "h1", "input_tokens": -1}
    path = tmp_path / "cache.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(cachefile.CacheFileError) as caught:
        cachefile.read(path)
    assert str(caught.value) == (
        f"{path}:1: request_hash must be 64 lowercase hex digits; "
        "input_tokens must be a whole number >= 0"
    )
    with pytest.raises(cachefile.CacheFileError, match="no such cache file"):
        cachefile.read(tmp_path / "missing.jsonl")
