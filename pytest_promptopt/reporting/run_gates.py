"""The suite-level gates of a run, decided from its case records and its database rows.

One function per gate, each a function of the records (and the database for the baselines),
so the session (`integration.session_gate`) and `promptopt gate` (over the joined shards of a
named run) decide alike. `decide_gates` applies them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.pairwise import PairJudging
    from pytest_promptopt.evaluation.pass_rate import PassRateRequirement
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.reporting.agreement import SuiteAgreement
    from pytest_promptopt.reporting.agreement_gate import AgreementRequirement
    from pytest_promptopt.reporting.baseline import BaselineResult
    from pytest_promptopt.reporting.verdict import GateFinding
    from pytest_promptopt.storage.database import Database


@dataclass
class RunGates:
    """What the suite-level gates found: pass rates, baseline comparisons (None: not asked)."""

    pass_rates: list[PassRateRequirement] = field(default_factory=list)
    baselines: dict[str, BaselineResult] | None = None
    baseline_error: str | None = None
    agreement: AgreementFound | None = None

    @property
    def failed(self) -> bool:
        """True when a gate fails the run."""
        regressed = any(r.regressed for r in (self.baselines or {}).values())
        disagrees = self.agreement is not None and self.agreement.failed
        return (
            any(g.failed for g in self.pass_rates)
            or regressed
            or bool(self.baseline_error)
            or disagrees
        )


@dataclass
class AgreementFound:
    """The judge against the labels: each suite's agreement, its gates, and why it could not
    be measured (`error` when a gate was set: it fails; `warning` in either case)."""

    agreements: dict[str, SuiteAgreement] = field(default_factory=dict)
    gates: list[AgreementRequirement] = field(default_factory=list)
    error: str | None = None
    warning: str | None = None

    @property
    def failed(self) -> bool:
        """True when a suite is under its `min_judge_agreement` or could not be measured."""
        return self.error is not None or any(g.failed for g in self.gates)


def pass_rate_gate(records: Mapping[str, Sequence[CaseRecord]]) -> list[PassRateRequirement]:
    """Every suite that carries a `min_pass_rate` against it."""
    from pytest_promptopt.evaluation.pass_rate import pass_rate_requirements

    return pass_rate_requirements(records)


def baseline_gate(
    db: Database,
    run_id: int,
    suites: Iterable[str],
    margin: float,
    against: int | None = None,
    *,
    modes: Mapping[str, str] | None = None,
    judging: PairJudging | None = None,
) -> tuple[dict[str, BaselineResult] | None, str | None]:
    """Each suite against its blessed baseline (or every suite against run `against`), and
    the error when the comparison could not be made (which must fail, never pass).

    `modes` and `judging`: the pairwise comparisons (see `compare_with_baselines`)."""
    from pytest_promptopt.reporting.baseline import compare_with_baselines

    try:
        found = compare_with_baselines(
            db, run_id, suites, margin, against, modes=modes, judging=judging
        )
    except Exception as exc:  # a decision that cannot be made must not pass: fail, say why
        return None, f"could not compare with the baselines ({exc}); the session fails"
    return found, None


def agreement_gate(db: Database, records: Mapping[str, Sequence[CaseRecord]]) -> AgreementFound:
    """The judge measured against the labels of the suites; each `min_judge_agreement` gate."""
    from pytest_promptopt.reporting.agreement import agreement_by_suite
    from pytest_promptopt.reporting.agreement_gate import AgreementRequirement

    minimums = {
        name: minimum
        for name, rows in records.items()
        if (minimum := _agreement_minimum(rows)) is not None
    }
    try:
        agreements = agreement_by_suite(db, suites=list(records))
    except Exception as exc:  # a gate that cannot be decided must not pass: fail, say why
        what = "the session fails" if minimums else "no agreement is shown"
        error = f"could not measure the judge's agreement ({exc}); {what}"
        return AgreementFound(error=error if minimums else None, warning=error)
    gates = [
        AgreementRequirement(name, minimum, agreements.get(name))
        for name, minimum in minimums.items()
    ]
    return AgreementFound(agreements, gates)


def agreement_findings_of(found: AgreementFound) -> list[GateFinding]:
    """The verdict's judge-agreement findings: each failed gate, and a measurement that failed."""
    from pytest_promptopt.reporting.agreement_gate import agreement_findings
    from pytest_promptopt.reporting.verdict import GateFinding

    failed = (
        [GateFinding(kind="judge-agreement", suite="", text=found.error)] if found.error else []
    )
    return [*agreement_findings(found.gates), *failed]


def agreement_lines_of(found: AgreementFound, judge_model: str | None) -> dict[str, list[str]]:
    """The summary's judge-agreement lines of each labelled suite, and its gate's line when the
    gate held or could not be applied (a failed one leads the verdict)."""
    from pytest_promptopt.evaluation.judge import JUDGE_VERSION
    from pytest_promptopt.reporting.agreement_gate import agreement_line

    lines = {
        name: agreement_line(measured, judge_model, JUDGE_VERSION)
        for name, measured in found.agreements.items()
    }
    for gate in found.gates:
        if not gate.failed:
            lines.setdefault(gate.suite, []).append("judge-agreement gate: " + gate.describe())
    return lines


def _agreement_minimum(rows: Sequence[CaseRecord]) -> float | None:
    """A suite's `min_judge_agreement`, from its records (None: no gate)."""
    return next((r.min_judge_agreement for r in rows if r.min_judge_agreement is not None), None)


def decide_gates(
    db: Database,
    run_id: int,
    records: Mapping[str, Sequence[CaseRecord]],
    *,
    baseline: bool,
    margin: float,
    against: int | None = None,
) -> RunGates:
    """Every suite-level gate over a run's records (`baseline`: compare with the baselines).

    Pairwise comparisons need the judge, which only a session has: here each suite is
    compared on its scores."""
    gates = RunGates(pass_rates=pass_rate_gate(records))
    if baseline:
        gates.baselines, gates.baseline_error = baseline_gate(
            db, run_id, list(records), margin, against
        )
    gates.agreement = agreement_gate(db, records)
    return gates
