"""The one per-case record: what a judged case's item reports, in the process that judged it
and, through its `user_properties` (which JUnit XML and pytest-xdist carry), everywhere else.

It travels as one JSON property, `promptopt_record`, which is what the plugin reads back; for
the readers of JUnit XML the same figures follow as flat `promptopt_<field>` properties, each
criterion as `promptopt_<criterion>`. Those names come from the model's own fields
(`PROPERTY_NAMES`), so a criterion may not take one (`suites.criteria.RESERVED_NAMES`).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from pytest_promptopt.records import PREFIX, RECORD_KEY
from pytest_promptopt.records.totals import Spend

_RENAMED = {"case_id": "case"}
"""Fields whose flat property has another name."""
_ALWAYS = ("prompt_id", "score", "threshold", "passed")
_COUNTS = ("calls", "cache_hits", "input_tokens", "output_tokens")
_OPTIONAL = (
    "min_pass_rate",
    "min_judge_agreement",
    "variant",
    "variant_rank",
    "reason",
    "flaky",
    "sample",
    "cluster",
    "comparison",
)
"""Fields sent only when set, so a plain case's properties stay as they were."""


class CaseRecord(Spend):
    """One judged case: its outcome, score per criterion, calls, tokens and cost.

    `min_pass_rate` is its suite's pass-rate gate (the suite's own, else the configured one),
    `min_judge_agreement` its agreement gate (the same way);
    `variant` and `variant_rank` (0 for the first) name the variant a `suite@variant` ran.
    """

    suite: str
    case_id: str
    prompt_id: int | None = None
    score: float
    threshold: float
    passed: bool
    error: str | None = None
    criteria: dict[str, float] = Field(default_factory=dict)
    min_pass_rate: float | None = None
    min_judge_agreement: float | None = None
    comparison: str | None = None
    """The suite's own `comparison` (`scores` or `pairwise`), when it sets one."""
    variant: str | None = None
    variant_rank: int | None = None
    # A case that did not pass: why (its headline, k-of-n count, gate); whether it is flaky.
    reason: str | None = None
    flaky: bool | None = None
    # `promptopt.judge` only: which of the answers judged for this case (0 for the first).
    sample: int | None = None
    # Judge repeats only: the mean spread of the samples' repeats, and whether any flipped.
    judge_spread: float | None = None
    judge_flipped: bool | None = None
    # The case's cluster (`suites.clusters`), for the variants' paired test; None: its own.
    cluster: str | None = None
    refusals: int = 0  # samples the model refused (`stop_reason: refusal`), expected or not

    @property
    def outcome(self) -> str:
        """`error`, `passed` or `failed`."""
        if self.error is not None:
            return "error"
        return "passed" if self.passed else "failed"

    def to_properties(self) -> list[tuple[str, object]]:
        """The `user_properties` of the record: itself as JSON, then its flat JUnit view."""
        return [(RECORD_KEY, self.model_dump_json()), *self.flat_properties()]

    def flat_properties(self) -> list[tuple[str, object]]:
        """Flat `promptopt_*` pairs for JUnit XML readers, each criterion as `promptopt_<name>`."""
        props: list[tuple[str, object]] = [
            (f"{PREFIX}suite", self.suite),
            (f"{PREFIX}case", self.case_id),
            *((f"{PREFIX}{name}", getattr(self, name)) for name in _ALWAYS),
            # no error and an unknown cost show as "" (JUnit XML has no None)
            (f"{PREFIX}error", self.error or ""),
            *((f"{PREFIX}{name}", getattr(self, name)) for name in _COUNTS),
            (f"{PREFIX}cost_usd", "" if self.cost_usd is None else self.cost_usd),
        ]
        props += [
            (f"{PREFIX}{name}", getattr(self, name))
            for name in _OPTIONAL
            if getattr(self, name) is not None
        ]
        if self.refusals:  # sent only when there were any
            props.append((f"{PREFIX}refusals", self.refusals))
        if self.judge_spread is not None:
            props += [
                (f"{PREFIX}judge_spread", self.judge_spread),
                (f"{PREFIX}judge_flipped", bool(self.judge_flipped)),
            ]
        props += [(f"{PREFIX}{k}", v) for k, v in self.criteria.items()]
        return props

    @classmethod
    def from_properties(cls, props: Iterable[tuple[str, object]]) -> list[CaseRecord]:
        """The records in a report's `user_properties` (other properties are ignored)."""
        return [cls.model_validate_json(str(value)) for key, value in props if key == RECORD_KEY]


PROPERTY_NAMES = frozenset(
    {
        RECORD_KEY.removeprefix(PREFIX),
        *(_RENAMED.get(name, name) for name in CaseRecord.model_fields if name != "criteria"),
    }
)
"""The record's own property names (`promptopt_<name>`): the JSON record and one per field
but the criteria, which travel under their own names."""
