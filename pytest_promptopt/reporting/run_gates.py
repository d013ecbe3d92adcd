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
    from pytest_promptopt.evaluation.pass_rate import PassRateRequirement
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.reporting.baseline import BaselineResult
    from pytest_promptopt.storage.database import Database


@dataclass
class RunGates:
    """What the suite-level gates found: pass rates, baseline comparisons (None: not asked)."""

    pass_rates: list[PassRateRequirement] = field(default_factory=list)
    baselines: dict[str, BaselineResult] | None = None
    baseline_error: str | None = None

    @property
    def failed(self) -> bool:
        """True when a gate fails the run."""
        regressed = any(r.regressed for r in (self.baselines or {}).values())
        return any(g.failed for g in self.pass_rates) or regressed or bool(self.baseline_error)


def pass_rate_gate(records: Mapping[str, Sequence[CaseRecord]]) -> list[PassRateRequirement]:
    """Every suite that carries a `min_pass_rate` against it."""
    from pytest_promptopt.evaluation.pass_rate import pass_rate_requirements

    return pass_rate_requirements(records)


def baseline_gate(
    db: Database, run_id: int, suites: Iterable[str], margin: float, against: int | None = None
) -> tuple[dict[str, BaselineResult] | None, str | None]:
    """Each suite against its blessed baseline (or every suite against run `against`), and
    the error when the comparison could not be made (which must fail, never pass)."""
    from pytest_promptopt.reporting.baseline import compare_with_baselines

    try:
        return compare_with_baselines(db, run_id, suites, margin, against=against), None
    except Exception as exc:  # a decision that cannot be made must not pass: fail, say why
        return None, f"could not compare with the baselines ({exc}); the session fails"


def decide_gates(
    db: Database,
    run_id: int,
    records: Mapping[str, Sequence[CaseRecord]],
    *,
    baseline: bool,
    margin: float,
    against: int | None = None,
) -> RunGates:
    """Every suite-level gate over a run's records (`baseline`: compare with the baselines)."""
    gates = RunGates(pass_rates=pass_rate_gate(records))
    if baseline:
        gates.baselines, gates.baseline_error = baseline_gate(
            db, run_id, list(records), margin, against
        )
    return gates
