"""Bad input: fuzzed suite files and settings, corrupted and foreign database files."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_promptopt.errors import ConfigError, SuiteError
from pytest_promptopt.settings import Settings, resolve_settings
from pytest_promptopt.suites import templates
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


def _check(text: str, *, names_the_suite: bool = True) -> None:
    """Load `text` as a suite file: a Suite or a SuiteError/ConfigError, never anything else.

    A SuiteError names the suite file, or (`names_the_suite` False) a file beside it, such as
    the case file at fault.
    """
    path = _DIR / "fuzz.promptopt.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    FIGURES["fuzz_examples"] += 1
    try:
        result = load_suite(path)
    except SuiteError as exc:
        named = str(path) if names_the_suite else str(_DIR)
        assert named in str(exc), str(exc)
        return
    except ConfigError as exc:
        assert str(exc).strip()
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
                "promptopt_holdout",
                "promptopt_min_pass_rate",
                "promptopt_regression_margin",
                "promptopt_check_timeout",
                "promptopt_judge_repeats",
                "promptopt_prices",
            ]
        ),
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(["nan", "inf", "-inf", "1e999", "100000", "m = nan, 1", "m = 1, inf"]),
        ),
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
    # Whatever was accepted is a usable number: no NaN or infinity slipped past a range check.
    numbers = [v for v in vars(result).values() if isinstance(v, float)]
    numbers += [n for _, prices in result.prices for n in prices]
    assert all(math.isfinite(n) for n in numbers), numbers
    assert result.judge_repeats <= 25


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


# Bounded input (issue 18): documents a hostile or careless author writes, over suite files and
# case files. Each example must be a suite or a SuiteError within its deadline; the template
# step limit is lowered so a loop bomb is refused in milliseconds, not a fraction of a second.
BOUNDED = settings(
    max_examples=60,
    deadline=timedelta(seconds=10),
    suppress_health_check=list(HealthCheck),
)


def _bomb(levels: int) -> str:
    lines = ["    a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"    a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join(lines)


NASTY_TEXT = st.sampled_from(
    [
        "{{ 10 ** 5000 }}",
        "{{ 'x'|center(10**8) }}",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "{{ user.name }}",
        "My CSS rule a{#x} {# broken #} does not work",
        "{% if %}",
        "{{ " + "9" * 5000 + " }}",
        "a\x00.txt",
        "\x1b]0;owned\x07\x1bc",
        "\u202e\ufeff\r\n\t",
        "prompts/missing.txt",
        "../../../../etc/passwd",
        "",
    ]
)
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=40))
NASTY_YAML_VALUES = st.sampled_from(
    [
        ".nan",
        ".inf",
        "-.inf",
        "1e999",
        "9" * 5000,
        "[" * 100 + "]" * 100,
        "{a: " * 80 + "1" + "}" * 80,
        "&loop [1, *loop]",
        "*nowhere",
        "!!python/object/apply:os.system [ls]",
        "!!binary aGVsbG8=",
        "{a: 1, a: 2}",
        "? [x]\n  : y",
        "<<: {x: 1}",
    ]
)


def _yaml_scalar(text: str) -> str:
    """`text` as a YAML double-quoted scalar (control characters escaped)."""
    return json.dumps(text)


@st.composite
def hostile_suites(draw: st.DrawFn) -> str:
    """A suite file with hostile values in its fields (YAML text, aliases and all)."""

    def value() -> str:
        return draw(st.one_of(NASTY_YAML_VALUES, TEXT.map(_yaml_scalar)))

    head = [
        f"name: {draw(st.sampled_from(['fuzz', 'a b', '', '[x]']))}",
        f"prompt: {value()}",
        f"threshold: {draw(st.sampled_from(['.nan', '.inf', '0.7', '2', '1e999']))}",
        "vars:",
        _bomb(draw(st.integers(1, 9))) if draw(st.booleans()) else f"    v: {value()}",
    ]
    if draw(st.booleans()):
        head.append(f"criteria: {{safety: {draw(st.sampled_from(['.inf', '.nan', '1', '-1']))}}}")
    if draw(st.booleans()):
        head.append(f"params: {{timeout: {value()}}}")
    cases = ["cases:"]
    for n in range(draw(st.integers(1, 3))):
        cases += [
            f"  - id: c{n}",
            f"    input: {value()}",
            f"    expected: {value()}",
            f"    assert: [{{regex: {value()}}}, {{max_cost_usd: {value()}}}]",
        ]
        if draw(st.booleans()):
            cases.append(f"    vars: {{x: {value()}}}")
        if draw(st.booleans()):
            cases.append(f"    input: {value()}")  # a duplicate key
    return "\n".join(head + cases) + "\n"


@BOUNDED
@given(hostile_suites())
def test_load_suite_hostile_documents(text: str) -> None:
    with mock.patch.object(templates, "MAX_STEPS", 20_000):
        _check(text)


CELLS = st.one_of(TEXT, st.sampled_from(["nan", "inf", "1e999", "0.5", "9" * 5000]))


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    """A CSV case file with hostile cells (and sometimes ragged rows)."""
    header = draw(
        st.lists(
            st.sampled_from(["id", "input", "expected", "category", "threshold", "topic", "inptu"]),
            min_size=1,
            max_size=5,
        )
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 3))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, 1, -1]))
        writer.writerow([draw(CELLS) for _ in range(max(0, width))])
    return out.getvalue()


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = {"v": leaf}
    return leaf


JSON_VALUES = st.recursive(
    st.one_of(CELLS, st.integers(), st.floats(allow_nan=True), st.none(), st.booleans()),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(KEYS, kids, max_size=4)),
    max_leaves=15,
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> str:
    """A JSONL case file: hostile rows, deep values, NaN, huge numbers and broken lines."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["row", "row", "deep", "raw"]))
        if kind == "raw":
            lines.append(
                draw(
                    st.sampled_from(
                        ["NaN", "[" * 5000, "{", '{"input": ' + "9" * 5000 + "}", "\x00"]
                    )
                )
            )
            continue
        row = draw(st.dictionaries(KEYS, JSON_VALUES, max_size=5))
        row.setdefault("input", draw(CELLS))
        if kind == "deep":
            row["vars"] = {"deep": _nested(draw(st.integers(60, 600)), "x")}
        lines.append(json.dumps(row, allow_nan=True))
    return "\n".join(lines) + "\n"


@st.composite
def yaml_case_files(draw: st.DrawFn) -> str:
    """A YAML case file: a list of case mappings with hostile values."""
    rows = []
    for n in range(draw(st.integers(1, 3))):
        value = draw(st.one_of(NASTY_YAML_VALUES, TEXT.map(_yaml_scalar)))
        rows.append(f"- {{id: r{n}, input: {value}, expected: {draw(TEXT.map(_yaml_scalar))}}}")
    if draw(st.booleans()):
        rows.insert(0, "- vars:\n" + "\n".join("  " + line for line in _bomb(9).splitlines()))
    return "\n".join(rows) + "\n"


CASE_FILES = st.one_of(
    csv_files().map(lambda t: ("cases.csv", t)),
    jsonl_files().map(lambda t: ("cases.jsonl", t)),
    yaml_case_files().map(lambda t: ("cases.yaml", t)),
)


@BOUNDED
@given(CASE_FILES, st.booleans(), st.booleans())
def test_load_suite_hostile_case_files(
    case_file: tuple[str, str], templated: bool, suite_input: bool
) -> None:
    name, text = case_file
    (_DIR / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    reference = f"{{file: {name}, templated: {str(templated).lower()}}}"
    head = "prompt: 'Topic {{ topic | default(\"x\") }}'\n"
    if suite_input:
        head += 'input: \'Q: {{ input | default("") }} {{ topic | default("") }}\'\n'
    with mock.patch.object(templates, "MAX_STEPS", 20_000):
        _check(f"{head}cases: {reference}\n", names_the_suite=False)
