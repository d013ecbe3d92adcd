"""Validation errors of suites as one line per problem: file, line, case, field and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pytest_promptopt.suites.casefiles import Row
from pytest_promptopt.suites.criteria import CRITERION_KEYS
from pytest_promptopt.suites.messages import (
    FileBlock,
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from pytest_promptopt.suites.spec import (
    CASE_KEYS,
    CRITERIA,
    SUITE_KEYS,
    VARIANT_KEYS,
    did_you_mean,
)

BLOCK_MODELS: dict[str, type[BaseModel]] = {
    "text": TextBlock,
    "image": FileBlock,
    "document": FileBlock,
    "tool_use": ToolUseBlock,
    "tool_result": ToolResultBlock,
}
BLOCK_TYPES = tuple(BLOCK_MODELS)
ROLES = ("user", "assistant")


def describe(path: Path, rows: Sequence[Row], exc: ValidationError) -> str:
    """One line per problem, naming the case (by id, file and line) and the field."""
    lines = []
    for err in _relevant(exc.errors()):
        raw_loc = list(err["loc"])
        loc = _clean(raw_loc)
        where = f"{path}"
        field_name = ".".join(str(p) for p in loc) or "(suite)"
        if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
            row = rows[loc[1]] if loc[1] < len(rows) else None
            data = row.data if row is not None and isinstance(row.data, dict) else {}
            case_id = data.get("id", f"#{loc[1] + 1}")
            where = f"{row.where if row else path}: case {case_id!r}"
            field_name = ".".join(str(p) for p in loc[2:]) or "(case)"
        field_name = field_name.replace("assertions", "assert")
        if not loc and err["type"] == "value_error":  # a suite-wide rule names its own fields
            lines.append(f"{where}: {_hint(err, raw_loc)}")
            continue
        lines.append(f"{where}: field {field_name!r}: {_hint(err, raw_loc)}")
    return "\n".join(lines)


def _is_branch(part: Any) -> bool:
    """True for pydantic's name of a union member in a location (`str`, `tuple[...]`)."""
    return isinstance(part, str) and (part == "str" or "[" in part)


def _relevant(errors: list[Any]) -> list[Any]:
    """The errors that explain something: a union member the value plainly is not is noise."""
    out = []
    told: set[tuple[Any, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if loc and _is_branch(loc[-1]) and err["type"].endswith("_type"):
            prefix = loc[:-1]
            deeper = any(
                tuple(f["loc"][: len(prefix)]) == prefix and len(f["loc"]) > len(loc)
                for f in errors
            )
            if deeper or prefix in told:
                continue
            told.add(prefix)
            got = type(err["input"]).__name__
            msg = f"takes text or a list of blocks, got {got}"
            err = {**err, "type": "content_type", "msg": msg}
        out.append(err)
    return out


def _clean(loc: list[Any]) -> list[Any]:
    """The location as the user wrote it: no union member names, no block tags."""
    out: list[Any] = []
    for n, part in enumerate(loc):
        if _is_branch(part):
            continue
        if _is_tag(loc, n):
            continue
        out.append(part)
    return out


def _is_tag(loc: list[Any], n: int) -> bool:
    """True when `loc[n]` is the block type pydantic adds after a block's index."""
    return (
        n >= 2
        and isinstance(loc[n - 1], int)
        and isinstance(loc[n - 2], str)
        and "tagged-union" in loc[n - 2]
        and loc[n] in BLOCK_MODELS
    )


def _keys_at(loc: list[Any]) -> tuple[str, ...]:
    """The keys allowed in the mapping holding the last part of `loc`."""
    keys: tuple[str, ...] = SUITE_KEYS
    for n, part in enumerate(loc[:-1]):
        if n == 0 and part == "cases":
            keys = CASE_KEYS
        elif n == 1 and loc[0] == "criteria":
            keys = CRITERION_KEYS
        elif n == 1 and loc[0] == "variants":
            keys = VARIANT_KEYS
        elif part == "messages":
            keys = tuple(Message.model_fields)
        elif _is_tag(loc, n):
            keys = tuple(BLOCK_MODELS[str(part)].model_fields)
        elif part == "list[TextBlock]":
            keys = tuple(TextBlock.model_fields)
    return keys


def _hint(err: Any, loc: list[Any]) -> str:
    """The validation message plus what is allowed, when pydantic does not say."""
    msg: str = err["msg"].removeprefix("Value error, ")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _keys_at(loc)
        return f"unknown key{did_you_mean(str(loc[-1]), allowed)}; allowed: {', '.join(allowed)}"
    if kind == "union_tag_invalid":
        tag = str(err.get("ctx", {}).get("tag", ""))
        return (
            f"unknown block type {tag!r}{did_you_mean(tag, BLOCK_TYPES)}; "
            f"allowed: {', '.join(BLOCK_TYPES)}"
        )
    if kind == "union_tag_not_found":
        return f"a content block needs a `type`: one of {', '.join(BLOCK_TYPES)}"
    if kind == "literal_error" and loc and loc[-1] == "role":
        got = str(err.get("input"))
        return f"unknown role {got!r}{did_you_mean(got, ROLES)}; allowed: {', '.join(ROLES)}"
    if kind in ("greater_than_equal", "less_than_equal") and "threshold" in loc:
        return f"{msg} (got {err.get('input')!r}); a threshold is a number from 0 to 1"
    if kind == "missing":
        return "required field is missing"
    if "criteria" in loc and len(loc) == 1 and "custom criterion" not in msg:
        return f"{msg}; built-in criteria: {', '.join(CRITERIA)}"
    return msg
