"""The agreement gate (`min_judge_agreement`) and the summary's judge-agreement lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_promptopt.reporting.agreement import SuiteAgreement
from pytest_promptopt.reporting.verdict import GateFinding
from pytest_promptopt.stats.agreement import MIN_AGREEMENT_LABELS, Agreement

GateStatus = Literal["failed", "met", "too few labels"]


def _figure(a: Agreement) -> str:
    """`safety: kappa 0.52 [0.31, 0.70], 14 labelled answers`."""
    return f"{a.criterion}: kappa {a.kappa.describe()}, {a.answers} labelled answers"


@dataclass(frozen=True)
class AgreementRequirement:
    """One suite's judge agreement against its `min_judge_agreement`.

    The figure is the lowest lower bound of the kappa interval among the suite's criteria
    (`overall` included) that have at least `min_labels` labelled answers; that criterion is
    the one that disagrees most. With no such criterion the gate cannot decide: it says so and
    does not fail the session (a gate that failed every suite until it had labels would be
    switched off; one that passed in silence would be trusted).
    """

    suite: str
    minimum: float
    measured: SuiteAgreement | None
    min_labels: int = MIN_AGREEMENT_LABELS

    @property
    def worst(self) -> Agreement | None:
        """The gated criterion with the lowest kappa lower bound."""
        if self.measured is None:
            return None
        gated = self.measured.gated(self.min_labels)
        return min(gated, key=lambda a: (a.kappa.low or 0.0, a.criterion)) if gated else None

    @property
    def status(self) -> GateStatus:
        """`failed`, `met`, or `too few labels` (the gate could not be applied)."""
        worst = self.worst
        if worst is None:
            return "too few labels"
        return "failed" if (worst.kappa.low or 0.0) < self.minimum else "met"

    @property
    def failed(self) -> bool:
        """True when a criterion's kappa lower bound is under the minimum."""
        return self.status == "failed"

    def describe(self) -> str:
        """The gate's line: the suite, the figure, the criterion, the minimum."""
        worst = self.worst
        gate = f"its minimum {self.minimum:.2f} (min_judge_agreement)"
        if worst is None:
            criteria = self.measured.criteria if self.measured is not None else []
            most = max((a.answers for a in criteria), default=0)
            return (
                f"suite {self.suite!r}: judge agreement not checked: not enough labels "
                f"(n<{self.min_labels}: {most} labelled answers for the best-labelled criterion) "
                f"for {gate}"
            )
        verdict = "is under" if self.failed else "meets"
        return (
            f"suite {self.suite!r}: judge agreement (kappa lower bound) "
            f"{worst.kappa.low or 0.0:.2f} {verdict} {gate}; disagrees most: {_figure(worst)}"
        )


def agreement_findings(requirements: Sequence[AgreementRequirement]) -> list[GateFinding]:
    """The verdict's findings: each failed gate (the session fails)."""
    return [
        GateFinding(kind="judge-agreement", suite=r.suite, text=r.describe())
        for r in requirements
        if r.failed
    ]


def agreement_line(
    measured: SuiteAgreement, judge_model: str | None, judge_version: str | None
) -> list[str]:
    """The summary's lines of one labelled suite: its kappa, n and the criterion that
    disagrees most, then a note when the labels were compared with another judge."""
    head = measured.headline
    lines = []
    if head is not None:
        text = f"judge agreement: kappa {head.kappa.describe()} ({head.criterion}, n={head.n})"
        worst = measured.worst()
        if worst is not None and worst.criterion != head.criterion:
            text += f"; disagrees most: {worst.criterion} kappa {worst.kappa.describe()}"
            text += f" (n={worst.n})"
        lines.append(text)
    else:
        lines.append(f"judge agreement: {measured.labels} labels, none with a level")
    note = measured.other_judge(judge_model, judge_version)
    if note:
        lines.append(note)
    return lines
