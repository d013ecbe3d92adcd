"""Bad input: fuzzed suite files and settings, corrupted and foreign database files."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_promptopt.errors import ConfigError, SuiteError
from pytest_promptopt.settings import Settings, resolve_settings
from pytest_promptopt.suites.loader import load_suite
from pytest_promptopt.suites.spec import Suite
from tests.support.reliability import FIGURES, run_pytest, write_project

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
_DIR = Path(tempfile.mkdtemp(prefix="promptopt-fuzz-"))

KEYS = st.sampled_from(
    [
        "name",
        "prompt",
        "cases",
        "id",
        "input",
        "expected",
        "threshold",
        "criteria",
        "assert",
        "judge",
        "repeats",
        "model",
        "description",
        "contains",
        "regex",
        "json_schema",
        "is_json",
        "max_chars",
        "category",
        "functionality",
        "safety",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["prompts/p.txt", "a/b", "[", "*", "1e999", "-1"]),
)
TREES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(KEYS, kids, max_size=5)),
    max_leaves=25,
)
SUITE_LIKE = st.fixed_dictionaries(
    {
        "prompt": st.one_of(st.text(max_size=20), TREES),
        "cases": st.lists(st.dictionaries(KEYS, TREES, max_size=6), max_size=3),
    },
    optional={"name": TREES, "threshold": SCALARS, "criteria": TREES, "repeats": SCALARS},
)


def _check(text: str) -> None:
    path = _DIR / "fuzz.promptopt.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    FIGURES["fuzz_examples"] += 1
    try:
        result = load_suite(path)
    except SuiteError as exc:
        assert str(path) in str(exc), str(exc)
        return
    assert isinstance(result, Suite)


@FUZZ
@given(st.text(max_size=300))
def test_load_suite_arbitrary_text(text: str) -> None:
    _check(text.encode("utf-8", "replace").decode("utf-8"))


@FUZZ
@given(st.one_of(TREES, SUITE_LIKE))
def test_load_suite_generated_structures(data: Any) -> None:
    _check(yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "promptopt_threshold",
                "promptopt_concurrency",
                "promptopt_cache",
                "promptopt_max_calls",
                "promptopt_budget_usd",
                "promptopt_timeout",
                "promptopt_max_retries",
                "promptopt_candidates",
                "promptopt_top_k",
                "promptopt_top_m",
                "promptopt_db",
                "promptopt_model",
                "promptopt_report_dir",
                "promptopt_iterations",
                "promptopt_samples",
            ]
        ),
        st.text(max_size=12),
    ),
    st.dictionaries(
        st.sampled_from(
            ["promptopt_threshold", "promptopt_concurrency", "promptopt_cache", "promptopt_timeout"]
        ),
        st.text(max_size=8),
    ),
)
def test_resolve_settings_arbitrary_strings(flags: dict[str, str], ini: dict[str, str]) -> None:
    FIGURES["fuzz_examples"] += 1
    saved = {
        k: os.environ.pop(k)
        for k in ("PROMPTOPT_DB", "PROMPTOPT_MODEL", "PROMPTOPT_CACHE", "PROMPTOPT_JUDGE_MODEL")
        if k in os.environ
    }
    try:
        result = resolve_settings(_DIR, flags.get, ini.get)
    except ConfigError as exc:
        assert str(exc).strip()
        return
    finally:
        os.environ.update(saved)
    assert isinstance(result, Settings)


def _one_line_db_error(tmp_path: Path, db: Path) -> None:
    write_project(tmp_path)
    run = run_pytest(tmp_path, None, f"--promptopt-db={db}", "--promptopt-model=simulated")
    text = run.out + run.err
    assert run.rc != 0, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if str(db) in line]
    assert lines, text[-3000:]
    assert any("--promptopt-db" in line for line in lines), lines
    FIGURES["bad_databases_rejected"] += 1


def test_corrupted_database_file(tmp_path: Path) -> None:
    db = tmp_path / "corrupt.db"
    db.write_bytes(bytes(__import__("random").Random(3).randrange(256) for _ in range(8192)))
    _one_line_db_error(tmp_path, db)


def test_foreign_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "other-app.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER)")
    con.execute("INSERT INTO customers VALUES (1, 'a@example.com')")
    con.commit()
    con.close()
    _one_line_db_error(tmp_path, db)
    # The other app's data is untouched.
    con = sqlite3.connect(db)
    try:
        assert list(con.execute("SELECT email FROM customers")) == [("a@example.com",)]
    finally:
        con.close()
