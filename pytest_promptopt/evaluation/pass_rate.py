"""Pass-rate requirements: a suite graded as a whole (`min_pass_rate`) fails under its minimum."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from pytest_promptopt.evaluation.record import SuiteTotals
from pytest_promptopt.records.case import CaseRecord

__all__ = ["PassRateRequirement", "pass_rate_requirements"]


class PassRateRequirement(BaseModel):
    """One suite's pass rate against its minimum (`min_pass_rate`: k of its n cases must pass)."""

    model_config = ConfigDict(frozen=True)

    suite: str
    passed: int
    cases: int
    minimum: float

    @property
    def rate(self) -> float:
        """Passed cases over all cases (an erroring case counts as not passed)."""
        return self.passed / self.cases if self.cases else 0.0

    @property
    def failed(self) -> bool:
        """True when the suite's pass rate is under its minimum."""
        return self.rate < self.minimum

    def describe(self) -> str:
        """`suite 'support': pass rate 50% (1 of 2 cases) is under its minimum 90%`."""
        verdict = "is under" if self.failed else "meets"
        return (
            f"suite {self.suite!r}: pass rate {self.rate:.0%} ({self.passed} of {self.cases} "
            f"cases) {verdict} its minimum {self.minimum:.0%} (min_pass_rate)"
        )


def pass_rate_requirements(
    records: Mapping[str, Sequence[CaseRecord]],
) -> list[PassRateRequirement]:
    """The requirement of every suite whose records carry a `min_pass_rate`, in suite order."""
    requirements = []
    for name, rows in records.items():
        minimum = next((r.min_pass_rate for r in rows if r.min_pass_rate is not None), None)
        if minimum is None:
            continue
        totals = SuiteTotals.of(name, rows)
        requirements.append(
            PassRateRequirement(
                suite=name, passed=totals.passed, cases=totals.cases, minimum=minimum
            )
        )
    return requirements
