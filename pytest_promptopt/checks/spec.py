"""A check as suites write it: one check key (`contains`, `python`, `not`, ...) per mapping."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pytest_promptopt.checks.base import Answered, CheckKind, CheckRun, Figures, Outcome
from pytest_promptopt.checks.hints import did_you_mean
from pytest_promptopt.checks.registry import CHECK_KINDS, KINDS

CHECK_OPTIONS: tuple[str, ...] = ("weight", "min", "step", "order")
"""The keys a check mapping may have beside its one check key."""


def _nested(value: Any) -> AssertionSpec:
    """The check a `not` negates, its problems raised as one ValueError."""
    if isinstance(value, AssertionSpec):
        return value
    try:
        return AssertionSpec.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ValueError(f"not: {problems}") from None


def _unknown(kind: str) -> ValueError:
    """The error of a check key no kind has."""
    return ValueError(
        f"unknown assertion type {kind!r}{did_you_mean(kind, CHECK_KINDS)}; "
        f"allowed: {', '.join(CHECK_KINDS)}"
    )


def _one_key(data: dict[Any, Any]) -> dict[str, Any]:
    """`{contains: refund, weight: 2}` as `{kind: contains, value: refund, weight: 2}`."""
    keys = [k for k in data if k not in CHECK_OPTIONS]
    if len(keys) != 1:
        strays = [str(k) for k in keys if k not in KINDS]
        hint = did_you_mean(strays[0], (*CHECK_KINDS, *CHECK_OPTIONS)) if strays else ""
        raise ValueError(
            f"a check is a mapping with exactly one check key (plus optional "
            f"{' and '.join(CHECK_OPTIONS)}), got {sorted(map(str, data))}"
            f"{f' ({strays[0]!r}{hint})' if hint else ''}; "
            f"allowed keys: {', '.join(CHECK_KINDS)}"
        )
    kind = keys[0]
    if kind not in KINDS:
        raise _unknown(str(kind))
    options = {k: data[k] for k in CHECK_OPTIONS if k in data}
    return {**options, "kind": kind, "value": data[kind]}


class AssertionSpec(BaseModel):
    """One check, written in YAML as a one-key mapping like `{contains: refund}`.

    Beside its check key a mapping may carry `weight` (its share of a `judge: false` case's
    score) and, for `python`, `min` (the pass mark of a float it returns); `step` pins a tool
    check to one step of a trajectory, `order` is `tool_sequence`'s mode. Its kind does the
    rest (`checks/kinds/`): it validates the value, runs the check and shows it.
    """

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    kind: str
    value: Any
    weight: float = Field(default=1.0, gt=0)
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    step: int | None = Field(default=None, ge=1)
    order: Literal["exact", "in_order", "any_order", "subset", "superset"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_one_key_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = _one_key(data) if "kind" not in data else data
        kind = KINDS.get(data["kind"]) if isinstance(data["kind"], str) else None
        if kind is None:
            raise _unknown(str(data["kind"]))
        return {**data, "value": kind.parse(data.get("value"), _nested)}

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in KINDS:
            raise _unknown(kind)
        return kind

    @model_validator(mode="after")
    def _check_options(self) -> AssertionSpec:
        if self.min is not None and "min" not in self.check_kind.options:
            takers = " and ".join(n for n, k in KINDS.items() if "min" in k.options)
            raise ValueError(f"`min` is for `{takers}` checks only, not {self.kind}")
        for option in ("step", "order"):
            if getattr(self, option) is not None and option not in self.check_kind.options:
                takers = ", ".join(n for n, k in KINDS.items() if option in k.options)
                raise ValueError(f"`{option}` is for `{takers}` checks only, not {self.kind}")
        return self

    @property
    def check_kind(self) -> CheckKind:
        """The kind that validates, runs and shows this check."""
        return KINDS[self.kind]

    @property
    def threshold(self) -> float:
        """The pass mark of a float a `python` check returns (`min`, default 0.5)."""
        return 0.5 if self.min is None else self.min

    def python_checks(self) -> list[str]:
        """The import paths of the `python` checks in this check (a negated one included)."""
        return self.check_kind.python_checks(self.value)

    def describe(self) -> str:
        """Short human form, e.g. `contains 'refund'` or `not regex 'x'`."""
        return self.check_kind.describe(self.value)

    def expected(self) -> str:
        """How its expectation is shown in results: the value, `schema`, ..."""
        return self.check_kind.expected(self.value)

    def found(self, outcome: Outcome, answer: Answered) -> str:
        """What this check found when it held (what a `not` around it reports)."""
        return self.check_kind.found(self.value, outcome, answer)

    def check(self, answer: Answered, figures: Figures) -> Outcome:
        """The outcome on one answer of a plain check (TypeError for `python` and `not`)."""
        return self.check_kind.check(self.value, answer, figures)

    async def run(self, answer: Answered, context: CheckRun) -> Outcome:
        """The outcome on one answer, with what the evaluator gives."""
        return await self.check_kind.run(self, answer, context)
