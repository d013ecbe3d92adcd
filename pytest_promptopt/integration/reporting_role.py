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
from pytest_promptopt.integration.terminal import SummaryCollector, carries_record
from pytest_promptopt.redaction import for_terminal
from pytest_promptopt.reporting.session_summary import suite_lines, variant_lines, write_summary

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.engine.suite_registry import SuiteOutcome
    from pytest_promptopt.reporting.model import RunReport
    from pytest_promptopt.reporting.run_gates import AgreementFound
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

    @property
    def joins_shards(self) -> bool:
        """True for a shard of a named run: it finishes its shard even with no case to judge."""
        return self.settings.run_name is not None and self.settings.shard is not None

    def check_pass_rates(self, session: pytest.Session, exitstatus: int) -> None:
        """The pass-rate half of the session's CI decision (see `SessionGate`); a shard of
        several defers it to `promptopt gate`."""
        if self.summary is not None and not self.settings.defers_gates:
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
        if self._compared or self.summary is None or self.settings.defers_gates:
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
        """Compare with the baselines, measure the judge, set the run's final status, write the
        reports.

        A shard of several of a named run defers those gates to `promptopt gate`; a shard of a
        named run ends its shard (handing in its case records for the gate), and the run
        finishes with its last shard.
        """
        self.compare_runs(session, owner, run_id)
        if self.summary is not None and not self.settings.defers_gates:
            self.gate.check_agreement(session, owner.db, self.summary.by_suite())
        status = run_status(int(session.exitstatus))
        if self.settings.run_name is not None:
            records = [] if self.summary is None else self.summary.records_json()
            owner.run.finish_shard(status, records)
        else:
            owner.run.finish(run_id, status)
        self.write_reports(owner, run_id)

    def decide_verdict(self, owner: Runtime | None, run_id: int | None) -> None:
        """Decide, once, what the session tells the user at its end (`SessionVerdict`)."""
        if self.summary is None:
            return
        from pytest_promptopt.evaluation.variants import variant_comparisons
        from pytest_promptopt.reporting.run_gates import agreement_findings_of
        from pytest_promptopt.reporting.verdict import build_verdict, spend_by_role

        roles = None
        if owner is not None and run_id is not None:
            with contextlib.suppress(Exception):  # the items' own figures stand in
                roles = spend_by_role(owner.db, run_id)
        records = self.summary.by_suite()
        self.verdict = build_verdict(
            records,
            pass_rates=self.gate.pass_rates,
            baselines=self.gate.baselines,
            variants=[]
            if self.settings.defers_gates
            else variant_comparisons(records, self.gate.variant_pairs),
            notes=self.notes,
            roles=roles,
            known_problems=owner.session_problems() if owner is not None else (),
            baseline_error=self.gate.baseline_error,
            more_gates=agreement_findings_of(self.agreement_found()),
        )

    def agreement_found(self) -> AgreementFound:
        """What the judge-agreement gate found (see `reporting.run_gates`)."""
        from pytest_promptopt.reporting.run_gates import AgreementFound

        g = self.gate
        return AgreementFound(g.agreements, g.agreement_gates, g.agreement_error)

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

    def after_suites(self) -> list[str]:
        """The lines after the suites: the variants side by side, or that the gates wait."""
        assert self.summary is not None
        if self.settings.defers_gates:
            from pytest_promptopt.reporting.session_summary import deferred_line

            shard, name = self.settings.shard, self.settings.run_name
            assert shard is not None and name is not None
            return [deferred_line(shard, name)]
        lines = variant_lines(self.summary.by_suite(), self.gate.variant_pairs)
        shard = self.settings.shard
        if shard is not None and shard[1] > 1:  # sharded, but not into a named run
            from pytest_promptopt.reporting.session_summary import unnamed_shard_line

            lines.append(unnamed_shard_line(shard))
        return lines

    def agreement_lines(self) -> dict[str, list[str]]:
        """The summary's judge-agreement lines of each labelled suite (see `run_gates`)."""
        from pytest_promptopt.reporting.run_gates import agreement_lines_of

        return agreement_lines_of(self.agreement_found(), self.settings.effective_judge_model)

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
            after_suites=self.after_suites(),
            limit_history=self.limit_history,
            agreement=self.agreement_lines(),
        )
        # Thousands of results are no longer needed; free them before pytest's final gc passes.
        self.report = None
        if runtime is not None:
            runtime.scheduler.release_results()
