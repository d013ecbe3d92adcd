"""`--promptopt-dry-run`: collect as usual, estimate the run's calls, skip every item.

Under xdist each worker collects every item and sends its estimate home in `workeroutput`;
the controller prints the first one that arrives (and writes it where asked).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.integration import internals
from pytest_promptopt.integration.collect import CaseItem
from pytest_promptopt.optimize.run_estimate import ESTIMATE_FILE_ENV
from pytest_promptopt.redaction import for_terminal
from pytest_promptopt.settings import Settings

REASON = "dry run"
ESTIMATE_KEY = "promptopt_estimate"


class DryRun:
    """The dry run's hooks: the estimate after collection, every item skipped, the summary."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.data: dict[str, Any] | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Estimate the selected case items (and write the estimate where asked)."""
        from pytest_promptopt.optimize.run_estimate import estimate_session

        jobs = [(i.suite, i.case) for i in items if isinstance(i, CaseItem)]
        self.data = estimate_session(jobs, self.settings)
        others = len(items) - len(jobs)
        if others:
            self.data["not_counted"].append(
                f"{others} other test items: the calls they make through the promptopt fixtures"
            )
        if internals.worker_input(self.config) is None:
            self._write()

    def _write(self) -> None:
        """The estimate as JSON where `promptopt estimate` asked for it."""
        target = os.environ.get(ESTIMATE_FILE_ENV)
        if target and self.data is not None:
            Path(target).write_text(json.dumps(self.data, indent=2), encoding="utf-8")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Skip every item, before its setup could call a model."""
        pytest.skip(REASON)

    def pytest_sessionfinish(self) -> None:
        """An xdist worker sends its estimate to the controller."""
        internals.set_worker_output(self.config, ESTIMATE_KEY, self.data)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """The controller takes the first worker's estimate."""
        sent = internals.node_worker_output(node).get(ESTIMATE_KEY)
        if self.data is None and sent is not None:
            self.data = dict(sent)
            self._write()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The estimate, in the `promptopt dry run` section."""
        if self.data is None:
            return
        from pytest_promptopt.optimize.run_estimate import render_estimate

        terminalreporter.section("promptopt dry run")
        for line in render_estimate(self.data):
            terminalreporter.write_line(for_terminal(line))
