"""Case records gathered from test reports (the summary they make: `reporting.session_summary`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_promptopt.records import RECORD_KEY

if TYPE_CHECKING:
    from pytest_promptopt.evaluation.record import SuiteTotals
    from pytest_promptopt.records.case import CaseRecord


def carries_record(report: pytest.TestReport) -> bool:
    """True when a report's item judged a case (its properties hold a case record)."""
    return any(key == RECORD_KEY for key, _ in report.user_properties)


class SummaryCollector:
    """Gathers case records from reports: the call phase, or the setup phase when it errored."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str, int], CaseRecord] = {}

    def add(self, report: pytest.TestReport) -> None:
        """Take the case records of a report once per item; a case judged again with the same
        answer is one record, two answers judged for one case (`promptopt.judge`) are two."""
        if report.when == "call" or (report.when == "setup" and report.failed):
            from pytest_promptopt.records.case import CaseRecord

            for record in CaseRecord.from_properties(report.user_properties):
                self._records[(record.suite, record.case_id, record.sample or 0)] = record

    def by_suite(self) -> dict[str, list[CaseRecord]]:
        """Case records grouped by suite, in the order suites were first seen."""
        from pytest_promptopt.evaluation.record import by_suite

        return by_suite(self._records.values())

    def records_json(self) -> list[dict[str, object]]:
        """Every case record as JSON data (what a shard hands in for `promptopt gate`)."""
        return [r.model_dump(mode="json") for r in self._records.values()]

    def totals(self) -> list[SuiteTotals]:
        """Totals per suite, in the order suites were first seen."""
        from pytest_promptopt.evaluation.record import SuiteTotals

        return [SuiteTotals.of(name, records) for name, records in self.by_suite().items()]
