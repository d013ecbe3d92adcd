"""`promptopt cache export` / `import`: the response cache as a sorted, verified JSONL file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from pytest_promptopt.llm import cachefile
from pytest_promptopt.llm.requests import request_hash
from pytest_promptopt.storage import Database, transaction

MODEL = "claude-haiku-4-5"


def _request(n: int) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": f"q{n}"}]}


def _hash(n: int) -> str:
    return request_hash(_request(n), n % 3)


def _row(n: int, **extra: Any) -> dict[str, Any]:
    """A recorded call whose key is its request's and sample's (`extra` may break that)."""
    request = extra.pop("request", _request(n))
    return {
        "request_hash": request_hash(request, n % 3),
        "sample": n % 3,
        "model": MODEL,
        "role": "target" if n % 2 else "judge",
        "request": request,
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
    assert set(entries[0]) == set(cachefile.FIELDS)  # no id, run or timestamp
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


KEY_TEXT = "key sk-ant-api03-Ab3dEf6hIjK9mN0pQ"
BEARER = "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8"


@pytest.mark.parametrize(
    ("leak", "where"),
    [
        (
            {"response": {"content": [{"type": "text", "text": KEY_TEXT}]}},
            "response.content[0].text",
        ),
        ({"response": {"echo": BEARER}}, "response.echo"),
    ],
)
def test_export_refuses_an_entry_that_holds_a_credential_naming_line_key_and_path(
    tmp_path: Path, leak: dict[str, Any], where: str
) -> None:
    url = _fill(tmp_path / "a.db", [_row(1), _row(2)])
    _plant(tmp_path / "a.db", _hash(2), leak)
    out = tmp_path / "cache.jsonl"
    result = CliRunner().invoke(main, ["--db", url, "cache", "export", str(out)])
    assert result.exit_code == 1
    line = sorted([_hash(1), _hash(2)]).index(_hash(2)) + 1
    assert f"line {line}, key {_hash(2)}, at {where}: " in result.output
    assert "--allow-secret-looking" in result.output
    assert not out.exists()
    # A value that only looks like a credential (a test fixture) goes with an explicit allowance.
    allowed = ["--allow-secret-looking", _hash(2)[:12]]
    result = CliRunner().invoke(main, ["--db", url, "cache", "export", str(out), *allowed])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2


def test_export_scans_values_not_property_names_nor_placeholders(tmp_path: Path) -> None:
    # Finding 4: a tool schema with properties named `headers` and `authorization`, and an
    # answer that explains `Bearer <your-token-here>`, are no credentials.
    schema = {
        "type": "object",
        "properties": {"headers": {"type": "object"}, "authorization": {"type": "string"}},
    }
    tool = {"name": "http_call", "description": "Call an API.", "input_schema": schema}
    request = {**_request(5), "tools": [tool]}
    texts = [
        "Send `Authorization: Bearer <your-token-here>` with each request.",
        "Use Bearer YOUR_API_TOKEN_GOES_HERE or an sk-ant-... key from the console.",
        "export ANTHROPIC_API_KEY=sk-ant-xxxxxxxxxxxxxxxxxxxxxxxx",
    ]
    rows = [
        _row(5, request=request),
        *(
            _row(6 + n, response={"content": [{"type": "text", "text": t}]})
            for n, t in enumerate(texts)
        ),
    ]
    url = _fill(tmp_path / "a.db", rows)
    out = tmp_path / "cache.jsonl"
    result = CliRunner().invoke(main, ["--db", url, "cache", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 4


def test_export_refuses_the_environment_key_anywhere_even_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-123456789")
    url = _fill(tmp_path / "a.db", [_row(1)])
    _plant(tmp_path / "a.db", _hash(1), {"response": {"echo": "tok-123456789"}})
    allowed = ["--allow-secret-looking", _hash(1)]
    result = CliRunner().invoke(
        main, ["--db", url, "cache", "export", str(tmp_path / "c"), *allowed]
    )
    assert result.exit_code == 1
    assert f"line 1, key {_hash(1)}, at response.echo: the environment's" in result.output


def test_export_recovers_the_sample_of_a_row_recorded_before_samples_were_kept(
    tmp_path: Path,
) -> None:
    url = _fill(tmp_path / "a.db", [{**_row(2), "sample": None}])
    out = tmp_path / "cache.jsonl"
    result = CliRunner().invoke(main, ["--db", url, "cache", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["sample"] == 2
    assert cachefile.read(out)[0]["sample"] == 2


def _write(path: Path, entries: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


def _import(tmp_path: Path, path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'import.db'}"
    return CliRunner().invoke(main, ["--db", url, "cache", "import", str(path)])


def test_import_refuses_a_line_whose_key_is_not_its_request_s_and_imports_nothing(
    tmp_path: Path,
) -> None:
    # Finding 3: an answer moved to another request's key (or a request moved under a key).
    one, two = cachefile.entry_of(_row(1)), cachefile.entry_of(_row(2))
    moved = {**one, "request": two["request"], "response": two["response"]}
    path = tmp_path / "poisoned.jsonl"
    _write(path, [two, moved])
    result = _import(tmp_path, path)
    assert result.exit_code == 1
    assert (
        f"Error: {path}:2: request_hash {one['request_hash']} is not the hash of" in result.output
    )
    assert not (tmp_path / "import.db").exists()  # nothing imported: refused before opening it
    # The sample is in the key too: the same request under another sample is refused.
    _write(path, [{**one, "sample": one["sample"] + 1}])
    result = _import(tmp_path, path)
    assert result.exit_code == 1 and f"{path}:1: request_hash" in result.output


@pytest.mark.parametrize("same_answer", [True, False])
def test_import_refuses_a_key_on_two_lines_naming_both(tmp_path: Path, same_answer: bool) -> None:
    one, two = cachefile.entry_of(_row(1)), cachefile.entry_of(_row(2))
    again = one if same_answer else {**one, "response": {"content": [], "stop_reason": "x"}}
    path = tmp_path / "dup.jsonl"
    _write(path, [one, two, again])
    result = _import(tmp_path, path)
    assert result.exit_code == 1
    assert f"Error: {path}:3: key {one['request_hash']} is also on line 1" in result.output
    assert not (tmp_path / "import.db").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not a JSON object (Expecting property name enclosed in double quotes)"),
        ("[1]", "not a JSON object; one entry a line"),
        ('{"request_hash": "x"}', "the entry has no sample, model, role, request, response"),
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
