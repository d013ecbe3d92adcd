"""`--promptopt-dry-run`: collect as usual, estimate the run's calls, skip every item."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.integration.collect import CaseItem
from pytest_promptopt.optimize.run_estimate import ESTIMATE_FILE_ENV
from pytest_promptopt.redaction import for_terminal
from pytest_promptopt.settings import Settings

REASON = "dry run"


class DryRun:
    """The dry run's hooks: the estimate after collection, every item skipped, the summary."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data: dict[str, Any] | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Estimate the selected case items (and write the estimate where asked)."""
        from pytest_promptopt.optimize.run_estimate import estimate_session

        jobs = [(i.suite, i.case) for i in items if isinstance(i, CaseItem)]
        self.data = estimate_session(jobs, self.settings)
        target = os.environ.get(ESTIMATE_FILE_ENV)
        if target:
            Path(target).write_text(json.dumps(self.data, indent=2), encoding="utf-8")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Skip every item, before its setup could call a model."""
        pytest.skip(REASON)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The estimate, in the `promptopt` section."""
        if self.data is None:
            return
        from pytest_promptopt.optimize.run_estimate import render_estimate

        terminalreporter.section("promptopt dry run")
        for line in render_estimate(self.data):
            terminalreporter.write_line(for_terminal(line))
