"""The run-level CI decision: a session that passed fails under a pass rate or on a regression.

The decisions themselves are `reporting.run_gates` (one function per gate), which
`promptopt gate` applies over the joined shards of a named run too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.pairwise import PairJudging
    from pytest_promptopt.evaluation.pass_rate import PassRateRequirement
    from pytest_promptopt.records.case import CaseRecord
    from pytest_promptopt.reporting.agreement import SuiteAgreement
    from pytest_promptopt.reporting.agreement_gate import AgreementRequirement
    from pytest_promptopt.reporting.baseline import BaselineResult
    from pytest_promptopt.stats.pairwise import PairwiseComparison
    from pytest_promptopt.storage.database import Database


@dataclass
class SessionGate:
    """What decided the session's exit status beside its items, kept for the verdict.

    As pytest-cov's `--cov-fail-under` does: the items stand as they are (the failing cases of
    a graded suite are xfailed) and the session's exit status becomes 1. The controller decides
    from every worker's case records.
    """

    pass_rates: list[PassRateRequirement] = field(default_factory=list)
    baselines: dict[str, BaselineResult] | None = None
    baseline_error: str | None = None
    agreements: dict[str, SuiteAgreement] = field(default_factory=dict)
    agreement_gates: list[AgreementRequirement] = field(default_factory=list)
    agreement_error: str | None = None
    variant_pairs: dict[str, PairwiseComparison] = field(default_factory=dict)
    """The pairwise judge's comparisons of variants with their first, by judged suite name."""

    def check_pass_rates(
        self,
        session: pytest.Session,
        exitstatus: int,
        records: Mapping[str, Sequence[CaseRecord]],
    ) -> None:
        """Fail a session that passed (`exitstatus`) when a suite is under its `min_pass_rate`."""
        from pytest_promptopt.reporting.run_gates import pass_rate_gate

        self.pass_rates = pass_rate_gate(records)
        if exitstatus == pytest.ExitCode.OK and any(g.failed for g in self.pass_rates):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def check_baselines(
        self,
        session: pytest.Session,
        db: Database,
        run_id: int,
        records: Mapping[str, Sequence[CaseRecord]],
        margin: float,
        *,
        modes: Mapping[str, str] | None = None,
        judging: PairJudging | None = None,
    ) -> None:
        """--promptopt-baseline: compare each suite with its baseline; a regression fails.

        Runs once the run's evaluations are written, before the run's status is; an
        interrupted session is not compared (its suites are partial), and a comparison that
        fails (the database, say) fails the session with a warning rather than let it pass.
        """
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        from pytest_promptopt.reporting.run_gates import baseline_gate

        self.baselines, self.baseline_error = baseline_gate(
            db, run_id, list(records), margin, modes=modes, judging=judging
        )
        if self.baseline_error is not None:
            warnings.warn(
                for_terminal(f"promptopt: {self.baseline_error}"), RuntimeWarning, stacklevel=1
            )
        regressed = self.baseline_error is not None or any(
            r.regressed for r in (self.baselines or {}).values()
        )
        if regressed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def check_agreement(
        self,
        session: pytest.Session,
        db: Database,
        records: Mapping[str, Sequence[CaseRecord]],
    ) -> None:
        """Measure the judge against the labels of the session's suites; a suite under its
        `min_judge_agreement` fails the session (a measurement that fails where a gate is set
        fails it too, with a warning; where none is set it only warns)."""
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        from pytest_promptopt.reporting.run_gates import agreement_gate

        found = agreement_gate(db, records)
        self.agreements, self.agreement_gates = found.agreements, found.gates
        self.agreement_error = found.error
        if found.warning is not None:
            warnings.warn(for_terminal(f"promptopt: {found.warning}"), RuntimeWarning, stacklevel=1)
        if found.failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def check_variant_pairs(
        self,
        db: Database,
        run_id: int,
        records: Mapping[str, Sequence[CaseRecord]],
        modes: Mapping[str, str],
        judging: PairJudging,
    ) -> None:
        """`comparison: pairwise` variants: the pairwise judge against the first variant.

        A variant never fails the session, so one that cannot be judged keeps its paired test
        and a warning says why.
        """
        from pytest_promptopt.reporting.pairwise import compare_variants_pairwise

        try:
            self.variant_pairs = compare_variants_pairwise(db, run_id, records, modes, judging)
        except Exception as exc:  # the scores' paired test still stands
            warnings.warn(
                for_terminal(f"promptopt: could not compare the variants pairwise ({exc})"),
                RuntimeWarning,
                stacklevel=1,
            )
