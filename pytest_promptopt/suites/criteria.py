"""Judging criteria: the four built-ins and a suite's own, with weight, text, minimum, scale."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pytest_promptopt.protocol import CRITERION_MEANINGS, SCALES
from pytest_promptopt.records.case import PROPERTY_NAMES

CRITERIA: tuple[str, ...] = ("functionality", "safety", "consistency", "edge_case_handling")
"""The built-in criteria, which the judge knows without a description."""
AGENT_CRITERIA: dict[str, str] = {
    "tool_use": "Does the agent call the right tools with the right inputs, in a sensible "
    "order, read their results correctly (errors included), and make no needless calls?",
    "conversation": "Does the assistant get the simulated user to their goal (the "
    "conversation's `goal_reached`), in few turns, without making them repeat themselves?",
}
"""Built-in criteria a suite lists by name only (never a default): `tool_use`, `conversation`."""


def builtin_meaning(name: str) -> str:
    """What a built-in criterion means (the four defaults, `tool_use`, `conversation`)."""
    return CRITERION_MEANINGS.get(name) or AGENT_CRITERIA[name]


class Criterion(BaseModel):
    """One criterion: its weight in the mean, what it means, the score it must reach, its scale.

    Written in YAML as a bare weight (`safety: 2.0`) or as a mapping
    (`tone: {weight: 1.0, description: "Warm, brief", min: 0.5, scale: binary}`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    weight: float = Field(default=1.0, ge=0.0)
    description: str | None = Field(default=None, min_length=1)
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    scale: str = "continuous"

    @model_validator(mode="before")
    @classmethod
    def _from_weight(cls, data: Any) -> Any:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"weight": data}
        return data

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, scale: str) -> str:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; allowed: {' or '.join(map(repr, SCALES))}")
        return scale

    @property
    def binary(self) -> bool:
        """True for a pass/fail criterion, scored 0 or 1."""
        return self.scale == "binary"


NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_NAMES = frozenset({"reasoning", *PROPERTY_NAMES})
"""Names a criterion may not take: the verdict's reasoning and the per-case record's own
properties (a criterion travels as `promptopt_<name>` beside them)."""

CRITERION_KEYS: tuple[str, ...] = tuple(Criterion.model_fields)
"""The keys a criterion mapping may have."""


def default_criteria() -> dict[str, Criterion]:
    """The four built-ins, weighted equally."""
    return {name: Criterion() for name in CRITERIA}


def check_criteria(suite: str, criteria: dict[str, Criterion]) -> dict[str, Criterion]:
    """The criteria when each custom one has a description and some weight is positive."""
    for name, criterion in criteria.items():
        if not NAME.match(name) or name in RESERVED_NAMES:
            raise ValueError(
                f"suite {suite!r}: criterion name {name!r} must be lower case letters, digits "
                "and underscores, starting with a letter, and none of "
                f"{', '.join(sorted(RESERVED_NAMES))}"
            )
        if name not in CRITERIA and name not in AGENT_CRITERIA and criterion.description is None:
            raise ValueError(
                f"suite {suite!r}: custom criterion {name!r} needs a `description` (what the "
                f"judge scores it on); only the built-ins {', '.join(CRITERIA)} go without one"
            )
    if not any(c.weight > 0 for c in criteria.values()):
        raise ValueError("criterion weights must be >= 0 and at least one must be > 0")
    return criteria
