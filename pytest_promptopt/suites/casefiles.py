"""Case files: `cases:` naming a `.jsonl`, `.csv` or `.yaml` file beside the suite.

Their cells are data: sent as written, never rendered as templates (a ticket quoting
`{{ user.name }}` or a CSS rule `a{#x}` stays as it is), unless the reference says
`templated: true`. The suite's own templates still insert a case file's vars, as data.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.confine import FileRoots
from pytest_promptopt.suites.spec import CASE_KEYS, closest, did_you_mean
from pytest_promptopt.suites.templates import TemplateError, placeholders
from pytest_promptopt.suites.yaml_lines import (
    depth_problem,
    line_of,
    load_yaml,
    read_text,
    strip_lines,
)

CSV_FIELDS = ("id", "input", "expected", "category", "threshold", "cluster")
CASE_FILE_SUFFIXES = (".jsonl", ".csv", ".yaml", ".yml")
REFERENCE_KEYS = ("file", "columns", "templated")


@dataclass(frozen=True)
class Row:
    """One case mapping and where it was written (file and line, when known)."""

    data: dict[str, Any]
    source: str
    line: int | None
    literal: bool = False  # a case file's row: its texts are data, not templates

    @property
    def where(self) -> str:
        """`file:line`, or the file alone."""
        return f"{self.source}:{self.line}" if self.line else self.source


def inline_rows(suite_path: Path, cases: list[Any]) -> list[Row]:
    """The cases written in the suite file itself."""
    return [Row(strip_lines(c), str(suite_path), line_of(c)) for c in cases]


def read_case_file(
    suite_path: Path, reference: Any, used_vars: Iterable[str], roots: FileRoots
) -> list[Row]:
    """The rows of the case file `cases:` names (a path, or `{file: ..., columns: {...}}`).

    The file must resolve to a regular file inside `roots`.
    """
    file_name, columns, templated = _reference(suite_path, reference)
    path = Path(os.path.normpath(suite_path.parent / file_name))
    if not path.name.endswith(CASE_FILE_SUFFIXES):
        raise _suite_error(
            suite_path,
            f"case file {file_name!r} must end with {', '.join(CASE_FILE_SUFFIXES)}; "
            "or write the cases as a list",
        )
    resolved = roots.check(str(suite_path), "cases", file_name, suite_path.parent, what="case file")
    assert resolved is not None  # missing_ok is off: a missing file raised
    text = read_text(resolved, "case file")
    if path.suffix == ".csv":
        rows = _csv_rows(suite_path, path, text, columns, frozenset(used_vars), templated)
    else:
        parsed = _jsonl(path, text) if path.suffix == ".jsonl" else _yaml(path, text)
        rows = _mapped(suite_path, path, parsed, columns)
    if not rows:
        raise SuiteError(f"{path}: the case file has no cases; add at least one", path=str(path))
    return [Row(r.data, r.source, r.line, literal=not templated) for r in rows]


def _suite_error(suite_path: Path, detail: str) -> SuiteError:
    """An error in the suite file's `cases:` reference."""
    return SuiteError(f"{suite_path}: field 'cases': {detail}", path=str(suite_path))


def _reference(suite_path: Path, reference: Any) -> tuple[str, dict[str, str], bool]:
    """The file name, the column mapping and `templated` of a `cases:` reference."""
    if isinstance(reference, str):
        return reference, {}, False
    unknown = sorted(str(k) for k in reference if k not in REFERENCE_KEYS)
    if unknown:
        raise _suite_error(
            suite_path,
            f"unknown key {unknown[0]!r}{did_you_mean(unknown[0], REFERENCE_KEYS)}; "
            "a case file reference is `{file: cases.csv, columns: {their_name: our_field}, "
            "templated: false}`",
        )
    file_name, columns = reference.get("file"), reference.get("columns") or {}
    if not isinstance(file_name, str) or not file_name.strip():
        raise _suite_error(suite_path, "`file` must name the case file (e.g. `file: cases.csv`)")
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise _suite_error(
            suite_path, "`columns` maps column names to case fields, e.g. `{target: expected}`"
        )
    templated = reference.get("templated", False)
    if not isinstance(templated, bool):
        raise _suite_error(
            suite_path,
            f"`templated` takes true (the cells are Jinja2 templates, rendered per case) or "
            f"false (the default: the cells are sent as written), got {templated!r}",
        )
    return file_name, dict(columns), templated


def _check_targets(suite_path: Path, columns: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    """Every `columns:` target must be one of the fields `allowed`."""
    for theirs, ours in columns.items():
        if ours not in allowed:
            raise _suite_error(
                suite_path,
                f"`columns` maps {theirs!r} to {ours!r}, which is not a case field"
                f"{did_you_mean(ours, allowed)}; allowed: {', '.join(allowed)}",
            )


def _check_sources(
    suite_path: Path, path: Path, columns: Mapping[str, str], present: Iterable[str]
) -> None:
    """Every name `columns:` maps must be a column (a key) the file has."""
    if not columns:
        return
    names = sorted(set(present))
    for theirs in columns:
        if theirs not in names:
            raise _suite_error(
                suite_path,
                f"`columns` maps {theirs!r}, which {path.name} does not have"
                f"{did_you_mean(theirs, names)}; its columns: {', '.join(names) or 'none'}",
            )


def _csv_rows(
    suite_path: Path,
    path: Path,
    text: str,
    columns: dict[str, str],
    used: frozenset[str],
    templated: bool,
) -> list[Row]:
    """CSV: the header names fields (id, input, ...) and vars (every other column)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    records = list(_csv_records(path, reader))
    if not records:
        raise SuiteError(
            f"{path}: the CSV file is empty; its first row names the columns", path=str(path)
        )
    header_line, header = records[0]
    _check_targets(suite_path, columns, CSV_FIELDS)
    _check_sources(suite_path, path, columns, header)
    names = [columns.get(col, col) for col in header]
    for n, name in enumerate(names):
        if not name or names.index(name) != n:
            problem = "an empty column name" if not name else f"a second column {name!r}"
            raise SuiteError(
                f"{path}:{header_line}: the header has {problem}; name every column once",
                path=str(path),
            )
    if templated:
        used = used | _row_placeholders(records[1:], names)
    for name in names:
        field = None if name in CSV_FIELDS or name in used else closest(name, CSV_FIELDS)
        if field is not None:
            raise SuiteError(
                f"{path}:{header_line}: column {name!r}: did you mean {field!r}? (as it is, it "
                "is a var no template uses); rename it, or map it with "
                f"`columns: {{{name}: {field}}}`",
                path=str(path),
            )
    return [
        _csv_row(path, line, n, names, cells)
        for n, (line, cells) in enumerate(records[1:], start=1)
    ]


def _csv_records(path: Path, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of every non-blank record."""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SuiteError(f"{path}:{line}: invalid CSV: {exc}", path=str(path)) from None
        if cells:
            yield line, cells


def _row_placeholders(records: list[tuple[int, list[str]]], names: list[str]) -> frozenset[str]:
    """Variables the rows' own input and expected templates read."""
    found: set[str] = set()
    for _, cells in records:
        for name, cell in zip(names, cells, strict=False):
            if name in ("input", "expected"):
                try:
                    found |= placeholders(cell)
                except TemplateError:
                    continue  # reported with its case when the case is rendered
    return frozenset(found)


def _csv_row(path: Path, line: int, n: int, names: list[str], cells: list[str]) -> Row:
    """One CSV record as a case mapping; an empty cell is an absent field."""
    if len(cells) != len(names):
        raise SuiteError(
            f"{path}:{line}: the row has {len(cells)} cells but the header has {len(names)} "
            "columns; quote cells that hold commas, and give every row every column",
            path=str(path),
        )
    data: dict[str, Any] = {}
    variables: dict[str, str] = {}
    for name, cell in zip(names, cells, strict=True):
        if cell == "":
            continue
        if name == "threshold":
            try:
                data[name] = float(cell)
            except ValueError:
                raise SuiteError(
                    f"{path}:{line}: column 'threshold': {cell!r} is not a number; "
                    "a threshold is a number from 0 to 1",
                    path=str(path),
                ) from None
        elif name in CSV_FIELDS:
            data[name] = cell
        else:
            variables[name] = cell
    if variables:
        data["vars"] = variables
    data.setdefault("id", f"{path.stem}-{n}")
    return Row(data, str(path), line)


class _DuplicateKey(ValueError):
    """A JSON object gives one key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's dict; _DuplicateKey when a key repeats."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _jsonl(path: Path, text: str) -> list[tuple[int, Any]]:
    """(line, value) of every non-blank JSONL line."""
    rows: list[tuple[int, Any]] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            raise SuiteError(
                f"{path}:{line}: the key {exc.key!r} is given twice in one object (JSON would "
                "keep only the last); keep one",
                path=str(path),
            ) from None
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"{path}:{line}: invalid JSON: {exc.msg} (column {exc.colno}); "
                "a JSONL file holds one JSON object per line",
                path=str(path),
            ) from None
        except (ValueError, RecursionError) as exc:  # a huge number; nesting past the stack
            cause = str(exc) if isinstance(exc, ValueError) else "nested too deep"
            raise SuiteError(f"{path}:{line}: invalid JSON: {cause}", path=str(path)) from None
        too_deep = depth_problem(value)
        if too_deep is not None:
            raise SuiteError(f"{path}:{line}: {too_deep}", path=str(path))
        rows.append((line, value))
    return rows


def _yaml(path: Path, text: str) -> list[tuple[int, Any]]:
    """(line, mapping) of every case of a YAML case file (a list of case mappings)."""
    parsed = load_yaml(path, text)
    if parsed is None:
        return []
    if not isinstance(parsed, list):
        raise SuiteError(
            f"{path}: a YAML case file is a list of case mappings; got {type(parsed).__name__}",
            path=str(path),
        )
    return [(line_of(item) or 0, strip_lines(item)) for item in parsed]


def _mapped(
    suite_path: Path, path: Path, parsed: list[tuple[int, Any]], columns: dict[str, str]
) -> list[Row]:
    """JSONL or YAML rows as case mappings, keys renamed by `columns`, ids defaulted."""
    _check_targets(suite_path, columns, CASE_KEYS)
    for line, value in parsed:
        if not isinstance(value, dict):
            raise SuiteError(
                f"{path}:{line}: a row must be a case mapping (id, input, expected, ...); "
                f"got {type(value).__name__}",
                path=str(path),
            )
    _check_sources(suite_path, path, columns, (str(k) for _, v in parsed for k in v))
    rows = []
    for n, (line, value) in enumerate(parsed, start=1):
        data: dict[str, Any] = {}
        for key, item in value.items():
            name = columns.get(key, key)
            if name in data:
                raise SuiteError(
                    f"{path}:{line}: the row gives {name!r} twice (once through `columns`); "
                    "keep one",
                    path=str(path),
                )
            data[name] = item
        for key in ("id", "cluster"):  # inspect's samples number their ids; documents too
            if isinstance(data.get(key), int) and not isinstance(data[key], bool):
                data[key] = str(data[key])
        data.setdefault("id", f"{path.stem}-{n}")
        rows.append(Row(data, str(path), line or None))
    return rows
