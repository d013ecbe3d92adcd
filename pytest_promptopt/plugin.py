"""The pytest plugin entry point: options, configuration and collection hooks, nothing heavy.

Session-long hooks live on `PromptOptSession` (session.py), registered in `pytest_configure`,
so these hooks stay thin and the state has one home.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.integration.fixtures import promptopt, promptopt_run  # noqa: F401  (registers them)
from pytest_promptopt.integration.session import SESSION, PromptOptSession
from pytest_promptopt.suites import SUITE_SUFFIXES


def pytest_addoption(parser: pytest.Parser) -> None:
    """Flags and ini keys, all starting with `promptopt`."""
    from pytest_promptopt.integration.options import add_options

    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Resolve settings (bad values are a usage error) and register the session hooks."""
    from pytest_promptopt.errors import ConfigError
    from pytest_promptopt.settings import resolve_settings

    try:
        settings = resolve_settings(Path(str(config.rootpath)), config.getoption, config.getini)
    except ConfigError as exc:
        raise pytest.UsageError(f"promptopt: {exc}") from None
    session = PromptOptSession(config, settings)
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "promptopt-session")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Suite files become collectors; any other file costs one suffix check."""
    if file_path.name.endswith(SUITE_SUFFIXES):
        from pytest_promptopt.integration.collect import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """Say when the offline simulator answers instead of a real model."""
    if config.stash[SESSION].settings.uses_simulator:
        return [
            "promptopt: model 'simulated' - the offline simulator answers, not Claude "
            "(choose a real model with --promptopt-model)"
        ]
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's session uid, so all land in one run row."""
    node.workerinput["promptopt_session_uid"] = node.config.stash[SESSION].session_uid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist `--dist load`: keep workers' queues full, so their cases can start early."""
    if config.getoption("dist", None) == "load":
        from pytest_promptopt.integration.xdist_compat import make_scheduler

        floor = 2 * config.stash[SESSION].settings.concurrency
        return make_scheduler(config, log, floor)
    return None
