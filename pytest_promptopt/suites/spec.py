"""Suite and case models: the validated form of `*.promptopt.yaml` files and of the Python API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CRITERIA: tuple[str, ...] = ("functionality", "safety", "consistency", "edge_case_handling")
ASSERTION_KINDS: tuple[str, ...] = (
    "contains",
    "not_contains",
    "icontains",
    "regex",
    "max_chars",
    "is_json",
    "json_schema",
)
CaseStage = Literal["given", "quick", "rigorous"]


class AssertionSpec(BaseModel):
    """One deterministic check, written in YAML as a one-key mapping like `{contains: refund}`."""

    model_config = ConfigDict(frozen=True)

    kind: Literal[
        "contains", "not_contains", "icontains", "regex", "max_chars", "is_json", "json_schema"
    ]
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
                    f"unknown assertion type {kind!r}; allowed: {', '.join(ASSERTION_KINDS)}"
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
            if not isinstance(v, dict):
                raise ValueError(f"json_schema takes a JSON Schema mapping, got {v!r}")
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(v)
            except SchemaError as exc:
                raise ValueError(f"json_schema is not a valid JSON Schema: {exc.message}") from None
        return self

    def describe(self) -> str:
        """Short human form, e.g. `contains 'refund'`."""
        return f"{self.kind} {self.value!r}"


class Case(BaseModel):
    """One case of a suite: an input, the behaviour expected, and deterministic checks."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    input: str
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

    @model_validator(mode="after")
    def _judged_or_asserted(self) -> Case:
        if not self.judge and not self.assertions:
            raise ValueError("a case with `judge: false` needs at least one `assert` check")
        return self


class Suite(BaseModel):
    """A prompt under test plus its cases, settings and judging criteria."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    prompt: str = Field(min_length=1)
    prompt_path: str | None = None
    model: str | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    criteria: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(CRITERIA, 1.0))
    repeats: int = Field(default=1, ge=1, le=50)
    cases: list[Case] = Field(default_factory=list)
    source: str | None = None

    @field_validator("criteria")
    @classmethod
    def _known_criteria(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(CRITERIA))
        if unknown:
            raise ValueError(f"unknown criteria {unknown}; allowed: {', '.join(CRITERIA)}")
        if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
            raise ValueError("criterion weights must be >= 0 and at least one must be > 0")
        return v

    @field_validator("cases")
    @classmethod
    def _unique_case_ids(cls, v: list[Case]) -> list[Case]:
        seen: set[str] = set()
        for case in v:
            if case.id in seen:
                raise ValueError(f"duplicate case id {case.id!r}; every case id must be unique")
            seen.add(case.id)
        return v

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
