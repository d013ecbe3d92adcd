"""The file `promptopt label import` reads: CSV (header `case,criterion,level`) or JSONL.

Every line is checked before anything is written; the errors name the file, the line, the field
and the fix. The file is untrusted: its size, its number of lines and each value's length are
bounded, and what it says is escaped wherever it is printed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.redaction import for_terminal

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_LISTED = 20
LIMITS = {"case": 255, "suite": 255, "labeller": 255, "criterion": 128, "note": 10_000, "run": 12}
MAX_ID = 10**12
FIELDS = ("case", "evaluation", "criterion", "level", "pass", "note", "labeller", "suite", "run")
PASS_WORDS = {"true": True, "pass": True, "1": True, "false": False, "fail": False, "0": False}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class LabelFileError(PromptOptError):
    """A label file is unreadable or has bad lines; the message names each line and field."""


@dataclass(frozen=True)
class LabelRow:
    """One checked line of a label file (`case` or `evaluation` names the answer)."""

    line: int
    case: str | None = None
    evaluation: int | None = None
    criterion: str | None = None
    level: int | None = None
    passed: bool | None = None
    note: str | None = None
    labeller: str | None = None
    suite: str | None = None
    run: str | None = None


class _Bad(Exception):
    """One field's fault: the field and the message with its fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_rows(path: Path) -> tuple[list[LabelRow], list[tuple[int, str]]]:
    """The good rows of a CSV or JSONL label file and (line, fault) of each bad one.

    A fault of the whole file (unreadable, too big, a bad header) is a LabelFileError.
    """
    text = _read_text(path)
    jsonl = path.suffix.lower() in JSONL_SUFFIXES or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith("{")
    )
    raw = _jsonl_records(path, text) if jsonl else _csv_records(path, text)
    rows: list[LabelRow] = []
    problems: list[tuple[int, str]] = []
    for line, record in raw:
        if isinstance(record, str):
            problems.append((line, record))
            continue
        try:
            rows.append(_row(line, record))
        except _Bad as bad:
            problems.append((line, f"field {bad.field}: {bad}"))
    if not rows and not problems:
        raise LabelFileError(f"{path}: the file holds no labels (one label a line)")
    return rows, problems


def listing(path: Path, problems: list[tuple[int, str]]) -> str:
    """The bad lines in line order (the first MAX_LISTED), escaped for the terminal."""
    ordered = sorted(problems, key=lambda item: item[0])
    shown = [f"{path}:{line}: {text}" for line, text in ordered[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        shown.append(f"... and {len(problems) - MAX_LISTED} more")
    head = f"{path}: nothing imported; {len(problems)} bad line(s):"
    return for_terminal("\n".join([head, *shown]))


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, a BOM allowed), refused over MAX_BYTES."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise LabelFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise LabelFileError(f"{path}: cannot read the file: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise LabelFileError(
            f"{path}: the file is over {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LabelFileError(
            f"{path}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None


def _too_many(path: Path) -> LabelFileError:
    return LabelFileError(f"{path}: more than {MAX_ROWS} labels; split it into smaller files")


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any] | str]]:
    """(line, object or the line's fault) for each non-blank JSONL line."""
    out: list[tuple[int, dict[str, Any] | str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(out) >= MAX_ROWS:
            raise _too_many(path)
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((number, f"not a JSON object ({exc.msg}); write one object a line"))
            continue
        if not isinstance(value, dict):
            out.append((number, "not a JSON object; write one object a line"))
            continue
        unknown = [str(k) for k in value if k not in FIELDS]
        if unknown:
            out.append((number, f"unknown key(s) {', '.join(map(repr, unknown))}; {_known()}"))
            continue
        out.append((number, value))
    return out


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any] | str]]:
    """(line, cells by column or the line's fault) for each CSV record after the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise LabelFileError(f"{path}: the file is empty; start it with a header such as "
                             "`case,criterion,level`") from None  # fmt: skip
    except csv.Error as exc:
        raise LabelFileError(f"{path}:1: not CSV ({exc})") from None
    names = [cell.strip().lower() for cell in header]
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise LabelFileError(
            for_terminal(f"{path}:1: unknown column(s) {', '.join(map(repr, unknown))}; {_known()}")
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LabelFileError(f"{path}:1: column(s) {', '.join(twice)} appear twice; keep one")
    if "case" not in names and "evaluation" not in names:
        raise LabelFileError(
            f"{path}:1: the header has no `case` or `evaluation` column; add one "
            "(e.g. `case,criterion,level`)"
        )
    if "level" not in names and "pass" not in names:
        raise LabelFileError(
            f"{path}:1: the header has no `level` or `pass` column; add one "
            "(e.g. `case,criterion,level`)"
        )
    out: list[tuple[int, dict[str, Any] | str]] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(out) >= MAX_ROWS:
                raise _too_many(path)
            if len(cells) != len(names):
                out.append((line, f"{len(cells)} cells, the header has {len(names)}; "
                                  "quote a value that holds a comma"))  # fmt: skip
                continue
            out.append((line, {n: c for n, c in zip(names, cells, strict=True) if c.strip()}))
    except csv.Error as exc:
        raise LabelFileError(f"{path}:{start}: not CSV ({exc}); check the quotes") from None
    return out


def _known() -> str:
    return f"the known ones: {', '.join(FIELDS)}"


def _row(line: int, record: dict[str, Any]) -> LabelRow:
    """A checked row from one record's values (cells or JSON values)."""
    values = {k: v for k, v in record.items() if v is not None}
    case = _text(values, "case")
    evaluation = _whole(values, "evaluation", "an evaluation id (see `promptopt show RUN`)")
    if case is None and evaluation is None:
        raise _Bad("case", "no case key or evaluation id; fill in `case` (or `evaluation`)")
    if case is not None and evaluation is not None:
        raise _Bad("evaluation", "both a case and an evaluation id; keep one of the two")
    level = _whole(values, "level", "a level 1-5 (or leave it empty and use `pass`)")
    if level is not None and not 1 <= level <= 5:
        raise _Bad("level", f"{level} is not a level; write a level 1-5, or use `pass`")
    passed = _passed(values)
    if level is None and passed is None:
        raise _Bad("level", "no level and no pass/fail; write a level 1-5 or a `pass` value")
    run = _text(values, "run")
    if run is not None and run != "latest" and not run.isdigit():
        raise _Bad("run", f"{run!r} is not a run; write a run id or `latest`")
    return LabelRow(
        line=line,
        case=case,
        evaluation=evaluation,
        criterion=_text(values, "criterion"),
        level=level,
        passed=passed,
        note=_text(values, "note"),
        labeller=_text(values, "labeller"),
        suite=_text(values, "suite"),
        run=run,
    )


def _text(values: dict[str, Any], field: str) -> str | None:
    """A text value, stripped (None when empty); numbers are taken as their digits."""
    value = values.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Bad(field, f"{type(value).__name__} is not text; write it as a string")
    text = str(value).strip()
    if len(text) > LIMITS[field]:
        raise _Bad(field, f"longer than {LIMITS[field]} characters; shorten it")
    return text or None


def _whole(values: dict[str, Any], field: str, wanted: str) -> int | None:
    """A whole number (an int, or a text of digits), None when empty."""
    value = values.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < MAX_ID:
            raise _Bad(field, f"{min(value, MAX_ID)} is out of range; write {wanted}")
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        return int(value.strip())
    shown = value if isinstance(value, str) and len(value) <= 40 else type(value).__name__
    raise _Bad(field, f"{shown!r} is not a whole number; write {wanted}")


def _passed(values: dict[str, Any]) -> bool | None:
    """The `pass` value: true/false, pass/fail or 1/0 (None when empty)."""
    value = values.get("pass")
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if word == "":
        return None
    if word in PASS_WORDS:
        return PASS_WORDS[word]
    shown = value if isinstance(value, str) and len(value) <= 40 else type(value).__name__
    raise _Bad("pass", f"{shown!r} is not pass/fail; write true/false, pass/fail or 1/0")
