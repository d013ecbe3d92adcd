"""The part of a process that reports: gathers case records, finishes the run, sums it up."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_promptopt.integration.handoff import USER_ERROR_ATTR
from pytest_promptopt.integration.role import SessionRole
from pytest_promptopt.integration.session_gate import SessionGate
from pytest_promptopt.integration.terminal import (
    SummaryCollector,
    carries_record,
    suite_lines,
    variant_lines,
    write_summary,
)
from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.engine.suite_registry import SuiteOutcome
    from pytest_promptopt.reporting.model import RunReport
    from pytest_promptopt.reporting.verdict import OptimizeNote, SessionVerdict
    from pytest_promptopt.settings import Settings


def run_status(exitstatus: int) -> str:
    """The run status for pytest's exit status."""
    if exitstatus == pytest.ExitCode.OK:
        return "passed"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    return "failed"


class ReportingRole(SessionRole):
    """A process that reports (alone, or the xdist controller): the records of every case it
    hears of, the session's CI decision, the run's final status, the reports and the summary."""

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        super().__init__(config, settings, session_uid)
        self.summary: SummaryCollector | None = None
        self.gate = SessionGate()
        self.report: RunReport | None = None
        self.report_dir: Path | None = None
        self.limit_history: str | None = None
        self.notes: list[OptimizeNote] = []
        self.verdict: SessionVerdict | None = None
        self._compared = False

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """An error in the team's own code is an error, though raised in the call phase."""
        if report.when == "call" and report.failed and getattr(report, USER_ERROR_ATTR, False):
            return "error", "E", "ERROR"
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect per-case scores and costs (from every worker too, on the controller)."""
        if not carries_record(report):
            return
        if self.summary is None:
            self.summary = SummaryCollector()
            self.first_record()
        self.summary.add(report)

    def first_record(self) -> None:
        """Called when the first case record arrives."""

    def check_pass_rates(self, session: pytest.Session, exitstatus: int) -> None:
        """The pass-rate half of the session's CI decision (see `SessionGate`)."""
        if self.summary is not None:
            self.gate.check_pass_rates(session, exitstatus, self.summary.by_suite())

    def record_unrun(self, owner: Runtime) -> bool:
        """A session whose items a session-wide problem kept from running still gets its run
        row (and so its reports); True when one was created here."""
        if self.summary is None or owner.run.exists() or not owner.session_problems():
            return False
        try:
            owner.run_id  # noqa: B018 (the accessor creates the row)
        except Exception:  # a database that cannot be opened is such a problem itself
            return False
        return True

    def pairwise_wanted(self) -> bool:
        """True when a suite of the session is compared pairwise (its judge makes calls)."""
        if self.summary is None:
            return False
        from pytest_promptopt.reporting.pairwise import comparison_modes

        return (
            "pairwise" in comparison_modes(self.summary.by_suite(), self.settings.compare).values()
        )

    def compare_runs(self, session: pytest.Session, owner: Runtime, run_id: int) -> None:
        """The baseline gate and the pairwise comparisons of variants, once per session.

        A process that judged calls it before its model service closes when a suite is
        compared pairwise (the pairwise judge calls the model); else `finish_run` does.
        """
        if self._compared or self.summary is None:
            return
        self._compared = True
        from pytest_promptopt.reporting.pairwise import comparison_modes

        records = self.summary.by_suite()
        modes = comparison_modes(records, self.settings.compare)
        judging = owner.pair_judging() if "pairwise" in modes.values() else None
        if self.settings.baseline:
            self.gate.check_baselines(
                session,
                owner.db,
                run_id,
                records,
                self.settings.regression_margin,
                modes=modes,
                judging=judging,
            )
        if judging is not None and session.exitstatus != pytest.ExitCode.INTERRUPTED:
            self.gate.check_variant_pairs(owner.db, run_id, records, modes, judging)

    def finish_run(self, session: pytest.Session, owner: Runtime, run_id: int) -> None:
        """Compare with the baselines, set the run's final status, write the reports."""
        self.compare_runs(session, owner, run_id)
        if self.summary is not None:
            self.gate.check_agreement(session, owner.db, self.summary.by_suite())
        owner.run.finish(run_id, run_status(int(session.exitstatus)))
        self.write_reports(owner, run_id)

    def decide_verdict(self, owner: Runtime | None, run_id: int | None) -> None:
        """Decide, once, what the session tells the user at its end (`SessionVerdict`)."""
        if self.summary is None:
            return
        from pytest_promptopt.evaluation.variants import variant_comparisons
        from pytest_promptopt.reporting.agreement_gate import agreement_findings
        from pytest_promptopt.reporting.verdict import GateFinding, build_verdict, spend_by_role

        roles = None
        if owner is not None and run_id is not None:
            with contextlib.suppress(Exception):  # the items' own figures stand in
                roles = spend_by_role(owner.db, run_id)
        records = self.summary.by_suite()
        self.verdict = build_verdict(
            records,
            pass_rates=self.gate.pass_rates,
            baselines=self.gate.baselines,
            variants=variant_comparisons(records, self.gate.variant_pairs),
            notes=self.notes,
            roles=roles,
            known_problems=owner.session_problems() if owner is not None else (),
            baseline_error=self.gate.baseline_error,
            more_gates=[
                *agreement_findings(self.gate.agreement_gates),
                *(
                    [GateFinding(kind="judge-agreement", suite="", text=self.gate.agreement_error)]
                    if self.gate.agreement_error
                    else []
                ),
            ],
        )

    def write_reports(self, owner: Runtime, run_id: int) -> None:
        """Build the run's report from the records and the database, and write its files."""
        if self.summary is None:  # stopped before any case reported: nothing to show
            return
        from pytest_promptopt.reporting.build import build_report
        from pytest_promptopt.reporting.writers import write_reports

        with contextlib.suppress(Exception):  # a note for the summary, never worth a failure
            self.limit_history = owner.limit_history()
        try:
            self.decide_verdict(owner, run_id)
            self.report = build_report(
                owner.db, run_id, self.summary.by_suite(), variant_pairs=self.gate.variant_pairs
            )
            self.report.verdict = self.verdict
            for suite in self.report.suites:
                suite.baseline = (self.gate.baselines or {}).get(suite.name)
                measured = self.gate.agreements.get(suite.name)
                suite.judge_agreement = measured.as_dict() if measured is not None else None
            self.report_dir = write_reports(self.report, self.settings.report_dir).run_dir
        except Exception as exc:  # reports must never turn a finished session into a crash
            warnings.warn(
                for_terminal(f"promptopt: could not write reports: {exc}"),
                RuntimeWarning,
                stacklevel=1,
            )

    def agreement_lines(self) -> dict[str, list[str]]:
        """The summary's judge-agreement lines of each labelled suite, and its gate's line
        when the gate held or could not be applied (a failed one leads the verdict)."""
        from pytest_promptopt.evaluation.judge import JUDGE_VERSION
        from pytest_promptopt.reporting.agreement_gate import agreement_line

        model = self.settings.effective_judge_model
        lines = {
            name: agreement_line(measured, model, JUDGE_VERSION)
            for name, measured in self.gate.agreements.items()
        }
        for gate in self.gate.agreement_gates:
            if not gate.failed:
                lines.setdefault(gate.suite, []).append("judge-agreement gate: " + gate.describe())
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The `promptopt` section: the verdict first, then the suites, then the reports."""
        if self.summary is None:
            return
        if self.verdict is None:
            self.decide_verdict(None, None)
        assert self.verdict is not None
        runtime = self.runtime_if_built()
        reported = {s.name: s for s in self.report.suites} if self.report is not None else {}
        totals = self.summary.totals()
        outcomes: dict[str, SuiteOutcome] = {}
        prompts: dict[str, str] = {}
        if runtime is not None:
            for t in totals:
                outcome = runtime.suites.outcome(t.name)
                if outcome is not None:
                    outcomes[t.name] = outcome
                prompts[t.name] = runtime.suites.judged_prompt(t.name) or ""
        write_summary(
            terminalreporter,
            self.verdict,
            suite_lines(totals, outcomes, reported, prompts),
            self.report_dir,
            self.gate.baselines,
            gates=self.gate.pass_rates,
            records=self.summary.by_suite(),
            after_suites=variant_lines(self.summary.by_suite(), self.gate.variant_pairs),
            limit_history=self.limit_history,
            agreement=self.agreement_lines(),
        )
        # Thousands of results are no longer needed; free them before pytest's final gc passes.
        self.report = None
        if runtime is not None:
            runtime.scheduler.release_results()
