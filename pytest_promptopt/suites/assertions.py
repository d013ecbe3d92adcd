"""Checks as suites write them: one check key (`contains`, `python`, `not`, ...) per mapping."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pytest_promptopt.suites.patterns import compile_pattern

AssertionKind = Literal[
    "contains",
    "not_contains",
    "icontains",
    "regex",
    "max_chars",
    "is_json",
    "json_schema",
    "tool_called",
    "tool_not_called",
    "tool_input",
    "stop_reason",
    "python",
    "not",
    "max_latency_ms",
    "max_cost_usd",
]
ASSERTION_KINDS: tuple[str, ...] = get_args(AssertionKind)
STOP_REASONS: tuple[str, ...] = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
)


def closest(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed name `word` is a near miss of, if any."""
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(word: str, allowed: Iterable[str]) -> str:
    """`: did you mean 'threshold'?` for a near miss of an allowed name, else ''."""
    close = closest(word, allowed)
    return f": did you mean {close!r}?" if close else ""


CHECK_OPTIONS: tuple[str, ...] = ("weight", "min")
"""The keys a check mapping may have beside its one check key."""
IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def _nested(value: Any) -> AssertionSpec:
    """The check a `not` negates, its problems raised as one ValueError."""
    if isinstance(value, AssertionSpec):
        return value
    try:
        return AssertionSpec.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ValueError(f"not: {problems}") from None


class AssertionSpec(BaseModel):
    """One check, written in YAML as a one-key mapping like `{contains: refund}`.

    Beside its check key a mapping may carry `weight` (its share of a `judge: false` case's
    score) and, for `python`, `min` (the pass mark of a float it returns).
    """

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    kind: AssertionKind
    value: Any
    weight: float = Field(default=1.0, gt=0)
    min: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _from_one_key_mapping(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" not in data:
            keys = [k for k in data if k not in CHECK_OPTIONS]
            if len(keys) != 1:
                strays = [str(k) for k in keys if k not in ASSERTION_KINDS]
                hint = did_you_mean(strays[0], (*ASSERTION_KINDS, *CHECK_OPTIONS)) if strays else ""
                raise ValueError(
                    f"a check is a mapping with exactly one check key (plus optional "
                    f"{' and '.join(CHECK_OPTIONS)}), got {sorted(map(str, data))}"
                    f"{f' ({strays[0]!r}{hint})' if hint else ''}; "
                    f"allowed keys: {', '.join(ASSERTION_KINDS)}"
                )
            kind = keys[0]
            if kind not in ASSERTION_KINDS:
                raise ValueError(
                    f"unknown assertion type {kind!r}{did_you_mean(str(kind), ASSERTION_KINDS)}; "
                    f"allowed: {', '.join(ASSERTION_KINDS)}"
                )
            value = _nested(data[kind]) if kind == "not" else data[kind]
            options = {k: data[k] for k in CHECK_OPTIONS if k in data}
            return {**options, "kind": kind, "value": value}
        return data

    @model_validator(mode="after")
    def _check_value(self) -> AssertionSpec:
        v = self.value
        if self.min is not None and self.kind != "python":
            raise ValueError(f"`min` is for `python` checks only, not {self.kind}")
        if self.kind in ("contains", "not_contains", "icontains", "regex"):
            if not isinstance(v, str) or not v:
                raise ValueError(f"{self.kind} takes a non-empty string, got {v!r}")
            if self.kind == "regex":
                compile_pattern(v)  # a PatternError (a ValueError) says what to write instead
        elif self.kind == "max_chars":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"max_chars takes a non-negative integer, got {v!r}")
        elif self.kind in ("max_latency_ms", "max_cost_usd"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"{self.kind} takes a positive, finite number, got {v!r}")
        elif self.kind == "python":
            if not isinstance(v, str) or not IMPORT_PATH.fullmatch(v):
                raise ValueError(f"python takes an import path `module:function`, got {v!r}")
        elif self.kind == "is_json":
            if not isinstance(v, bool):
                raise ValueError(f"is_json takes true or false, got {v!r}")
        elif self.kind == "json_schema":
            check_schema("json_schema", v)
        elif self.kind in ("tool_called", "tool_not_called"):
            if not isinstance(v, str) or not v:
                raise ValueError(f"{self.kind} takes a tool name, got {v!r}")
        elif self.kind == "tool_input":
            if not isinstance(v, dict) or set(v) != {"name", "json_schema"}:
                raise ValueError(
                    f"tool_input takes {{name: TOOL, json_schema: {{...}}}}, got {v!r}"
                )
            if not isinstance(v["name"], str) or not v["name"]:
                raise ValueError(f"tool_input.name takes a tool name, got {v['name']!r}")
            check_schema("tool_input.json_schema", v["json_schema"])
        elif self.kind == "stop_reason" and v not in STOP_REASONS:
            raise ValueError(f"stop_reason takes one of {', '.join(STOP_REASONS)}, got {v!r}")
        return self

    @property
    def threshold(self) -> float:
        """The pass mark of a float a `python` check returns (`min`, default 0.5)."""
        return 0.5 if self.min is None else self.min

    def python_checks(self) -> list[str]:
        """The import paths of the `python` checks in this check (a negated one included)."""
        if self.kind == "python":
            return [str(self.value)]
        return self.value.python_checks() if self.kind == "not" else []

    def describe(self) -> str:
        """Short human form, e.g. `contains 'refund'` or `not regex 'x'`."""
        if self.kind == "not":
            return f"not {self.value.describe()}"
        return f"{self.kind} {self.value!r}"


def check_schema(name: str, schema: Any) -> None:
    """Raise ValueError unless `schema` is a valid JSON Schema mapping."""
    if not isinstance(schema, dict):
        raise ValueError(f"{name} takes a JSON Schema mapping, got {schema!r}")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"{name} is not a valid JSON Schema: {exc.message}") from None
