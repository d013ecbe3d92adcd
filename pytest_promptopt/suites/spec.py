"""Suite and case models: the validated form of `*.promptopt.yaml` files and of the Python API."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pytest_promptopt.suites.criteria import CRITERIA as CRITERIA  # re-exported
from pytest_promptopt.suites.criteria import Criterion, check_criteria, default_criteria

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
CaseStage = Literal["given", "quick", "rigorous"]


def closest(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed name `word` is a near miss of, if any."""
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(word: str, allowed: Iterable[str]) -> str:
    """`: did you mean 'threshold'?` for a near miss of an allowed name, else ''."""
    close = closest(word, allowed)
    return f": did you mean {close!r}?" if close else ""


class AssertionSpec(BaseModel):
    """One deterministic check, written in YAML as a one-key mapping like `{contains: refund}`."""

    model_config = ConfigDict(frozen=True)

    kind: AssertionKind
    value: Any

    @model_validator(mode="before")
    @classmethod
    def _from_one_key_mapping(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" not in data:
            if len(data) != 1:
                raise ValueError(
                    f"an assertion is a mapping with exactly one key, got {sorted(data)}; "
                    f"allowed keys: {', '.join(ASSERTION_KINDS)}"
                )
            ((kind, value),) = data.items()
            if kind not in ASSERTION_KINDS:
                raise ValueError(
                    f"unknown assertion type {kind!r}{did_you_mean(str(kind), ASSERTION_KINDS)}; "
                    f"allowed: {', '.join(ASSERTION_KINDS)}"
                )
            return {"kind": kind, "value": value}
        return data

    @model_validator(mode="after")
    def _check_value(self) -> AssertionSpec:
        v = self.value
        if self.kind in ("contains", "not_contains", "icontains", "regex"):
            if not isinstance(v, str) or not v:
                raise ValueError(f"{self.kind} takes a non-empty string, got {v!r}")
            if self.kind == "regex":
                import re

                try:
                    re.compile(v)
                except re.error as exc:
                    raise ValueError(f"regex {v!r} does not compile: {exc}") from None
        elif self.kind == "max_chars":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"max_chars takes a non-negative integer, got {v!r}")
        elif self.kind == "is_json":
            if not isinstance(v, bool):
                raise ValueError(f"is_json takes true or false, got {v!r}")
        elif self.kind == "json_schema":
            _check_schema("json_schema", v)
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
            _check_schema("tool_input.json_schema", v["json_schema"])
        elif self.kind == "stop_reason" and v not in STOP_REASONS:
            raise ValueError(f"stop_reason takes one of {', '.join(STOP_REASONS)}, got {v!r}")
        return self

    def describe(self) -> str:
        """Short human form, e.g. `contains 'refund'`."""
        return f"{self.kind} {self.value!r}"


def _check_schema(name: str, schema: Any) -> None:
    """Raise ValueError unless `schema` is a valid JSON Schema mapping."""
    if not isinstance(schema, dict):
        raise ValueError(f"{name} takes a JSON Schema mapping, got {schema!r}")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"{name} is not a valid JSON Schema: {exc.message}") from None


class TextBlock(BaseModel):
    """A text content block (a template, rendered per case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text"]
    text: str


class FileBlock(BaseModel):
    """An image or document read from a file beside the suite and sent base64."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["image", "document"]
    path: str = Field(min_length=1)


class ToolUseBlock(BaseModel):
    """An assistant's tool call, as the Messages API writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(BaseModel):
    """A tool's answer to a `tool_use`, as the Messages API writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[TextBlock] = ""
    is_error: bool = False


ContentBlock = Annotated[
    TextBlock | FileBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")
]


class Message(BaseModel):
    """One turn of a conversation: a role and text or content blocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant"]
    content: str | tuple[ContentBlock, ...]

    def text(self) -> str:
        """The turn's text blocks joined (what a reader sees of it)."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(b.text for b in self.content if isinstance(b, TextBlock))


class Case(BaseModel):
    """One case of a suite: what is sent, the behaviour expected, and deterministic checks.

    A case gives one of `input` (one user turn), `messages` (a conversation ending with the
    user) or `turns` (user messages answered one after another); with none of them, the
    suite's `input` template is sent, rendered from the case's `vars`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    input: str | None = None
    messages: tuple[Message, ...] | None = None
    turns: tuple[str, ...] | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: str | None = None
    category: str = "general"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    assertions: tuple[AssertionSpec, ...] = Field(default=(), alias="assert")
    judge: bool = True
    repeats: int | None = Field(default=None, ge=1, le=50)

    @field_validator("id")
    @classmethod
    def _id_is_printable(cls, v: str) -> str:
        if any(c in v for c in "[]\n\r"):
            raise ValueError("a case id may not contain '[', ']' or line breaks")
        return v

    @field_validator("messages")
    @classmethod
    def _ends_with_the_user(cls, v: tuple[Message, ...] | None) -> tuple[Message, ...] | None:
        if v is not None and (not v or v[-1].role != "user"):
            raise ValueError(
                "a conversation must end with a user turn (the model answers it); "
                "add a final `{role: user, content: ...}` message"
            )
        return v

    @field_validator("turns")
    @classmethod
    def _some_turns(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and not v:
            raise ValueError("`turns` needs at least one user message")
        return v

    @model_validator(mode="after")
    def _one_request_and_judged_or_asserted(self) -> Case:
        given = [k for k in ("input", "messages", "turns") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of `input`, `messages` or `turns`, not {given}")
        if not self.judge and not self.assertions:
            raise ValueError("a case with `judge: false` needs at least one `assert` check")
        return self

    @property
    def gives_request(self) -> bool:
        """True when the case says what to send (else the suite's `input` template does)."""
        return self.input is not None or self.messages is not None or self.turns is not None

    @property
    def display_input(self) -> str:
        """A one-string form of what the case sends (its input, last user turn or turns)."""
        if self.input is not None:
            return self.input
        if self.messages is not None:
            return self.messages[-1].text()
        if self.turns is not None:
            return "\n".join(self.turns)
        return ", ".join(f"{k}={v}" for k, v in self.vars.items())


class Suite(BaseModel):
    """A prompt under test plus its cases, settings and judging criteria."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    prompt: str | None = None
    prompt_path: str | None = None
    input: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: dict[str, Any] | None = None
    model: str | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    criteria: dict[str, Criterion] = Field(default_factory=default_criteria)
    repeats: int = Field(default=1, ge=1, le=50)
    cases: list[Case] = Field(default_factory=list)
    source: str | None = None

    @field_validator("criteria")
    @classmethod
    def _known_criteria(cls, v: dict[str, Criterion], info: ValidationInfo) -> dict[str, Criterion]:
        return check_criteria(str(info.data.get("name", "?")), v)

    @field_validator("cases")
    @classmethod
    def _unique_case_ids(cls, v: list[Case]) -> list[Case]:
        seen: set[str] = set()
        for case in v:
            if case.id in seen:
                raise ValueError(f"duplicate case id {case.id!r}; every case id must be unique")
            seen.add(case.id)
        return v

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("`prompt` is empty; write the system prompt or leave the key out")
        return v

    @field_validator("tools")
    @classmethod
    def _tools_named(
        cls, v: tuple[dict[str, Any], ...] | None
    ) -> tuple[dict[str, Any], ...] | None:
        for n, tool in enumerate(v or ()):
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise ValueError(f"tool #{n + 1} needs a `name`")
            if "type" not in tool:  # a client tool: the model fills its input_schema
                _check_schema(f"tool {tool['name']!r} input_schema", tool.get("input_schema"))
        return v

    @model_validator(mode="after")
    def _every_case_sends_something(self) -> Suite:
        if self.input is None:
            silent = [c.id for c in self.cases if not c.gives_request]
            if silent:
                raise ValueError(
                    f"case(s) {silent} give no `input`, `messages` or `turns`, and the suite has "
                    "no `input` template to fill from their `vars`"
                )
        return self

    @property
    def system_template(self) -> str:
        """The system prompt template ('' for a feature with no system prompt)."""
        return self.prompt or ""

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Suite:
        """Load a `*.promptopt.yaml` file, checked as at collection (for a parametrized test)."""
        from pytest_promptopt.suites.loader import load_suite

        return load_suite(Path(path))

    def case(self, case_id: str) -> Case:
        """The case with this id."""
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def threshold_for(self, case: Case, default: float) -> float:
        """The pass mark for a case: its own, else the suite's, else the configured default."""
        if case.threshold is not None:
            return case.threshold
        return self.threshold if self.threshold is not None else default

    def repeats_for(self, case: Case) -> int:
        """Samples to take for a case."""
        return case.repeats if case.repeats is not None else self.repeats


SUITE_KEYS: tuple[str, ...] = tuple(
    k for k in Suite.model_fields if k not in ("prompt_path", "source")
)
"""The keys a suite file may have at its top level."""
CASE_KEYS: tuple[str, ...] = tuple(f.alias or name for name, f in Case.model_fields.items())
"""The keys a case mapping may have (`assert`, not `assertions`)."""
