"""The pytest plugin entry point: options, configuration and collection hooks, nothing heavy.

`pytest_configure` chooses this process's role once (alone, xdist controller or worker, see
`integration/roles.py`) and registers it; the session hooks live on that object.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_promptopt.integration.fixtures import promptopt, promptopt_run  # noqa: F401
from pytest_promptopt.integration.role import ROLE, role_of
from pytest_promptopt.suites import SUITE_SUFFIXES


def pytest_addoption(parser: pytest.Parser) -> None:
    """Flags and ini keys, all starting with `promptopt`."""
    from pytest_promptopt.integration.options import add_options

    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Resolve settings (bad values are a usage error) and register this process's role."""
    from pytest_promptopt.errors import ConfigError
    from pytest_promptopt.integration.roles import choose_role
    from pytest_promptopt.redaction import redact_log_records
    from pytest_promptopt.settings import resolve_settings

    try:
        settings = resolve_settings(Path(str(config.rootpath)), config.getoption, config.getini)
        if settings.cache_file is not None and settings.cache_mode in ("use", "replay"):
            from pytest_promptopt.llm import cachefile

            cachefile.read(settings.cache_file)  # verified before any case runs
    except ConfigError as exc:
        raise pytest.UsageError(f"promptopt: {exc}") from None
    if settings.judge_params or settings.optimizer_params:
        from pytest_promptopt.errors import PromptOptError
        from pytest_promptopt.llm.params import check_role_params

        try:
            check_role_params(
                settings.judge_params,
                model=settings.effective_judge_model,
                label="--promptopt-judge-params",
            )
            check_role_params(
                settings.optimizer_params,
                model=settings.effective_optimizer_model,
                label="--promptopt-optimizer-params",
            )
        except PromptOptError as exc:
            raise pytest.UsageError(f"promptopt: {exc}") from None
    role = choose_role(config, settings)
    config.stash[ROLE] = role
    config.pluginmanager.register(role, f"promptopt-{role.name}")
    if settings.dry_run:
        from pytest_promptopt.integration.dry_run import DryRun

        config.pluginmanager.register(DryRun(config, settings), "promptopt-dry-run")
    # The SDK's debug lines hold request bodies: what pytest captures of them is redacted.
    config.add_cleanup(redact_log_records())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Suite files become collectors; any other file costs one suffix check."""
    if file_path.name.endswith(SUITE_SUFFIXES):
        from pytest_promptopt.integration.collect import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--promptopt-shard I/N: deselect the cases of the other shards."""
    shard = role_of(config).settings.shard
    if shard is not None:
        from pytest_promptopt.integration.collect import CaseItem

        other = [i for i in items if isinstance(i, CaseItem) and not i.in_shard(shard)]
        if other:
            dropped = set(map(id, other))
            config.hook.pytest_deselected(items=other)
            items[:] = [i for i in items if id(i) not in dropped]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """Say when the offline simulator answers instead of a real model."""
    if role_of(config).settings.uses_simulator:
        return [
            "promptopt: model 'simulated' - the offline simulator answers, not Claude "
            "(choose a real model with --promptopt-model)"
        ]
    return None
