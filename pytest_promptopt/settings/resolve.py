"""Settings from pytest's flags, the environment and the ini: flag > environment > ini > default."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_promptopt.settings.model import SETTINGS, OptimizeSettings, Settings
from pytest_promptopt.settings.table import SettingSpec


def lookup(
    spec: SettingSpec, option: Callable[[str], Any], ini: Callable[[str], Any]
) -> tuple[Any, str] | None:
    """A setting's raw value as flag > environment > ini, and the name of where it came from
    (the flag, the variable or the ini key) for its errors; None when it is not set."""
    value = option(spec.dest)
    if value is not None:
        return value, spec.flag
    if spec.env and os.environ.get(spec.env):
        return os.environ[spec.env], spec.env
    if spec.ini:
        raw = ini(spec.ini)
        if raw not in (None, "", []):
            return raw, f"{spec.ini} (ini)"
    return None


def resolve_settings(
    rootdir: Path, option: Callable[[str], Any], ini: Callable[[str], Any]
) -> Settings:
    """Build Settings from pytest's option and ini lookups; raises ConfigError on bad values.

    A value not given is the field's default, so a session that sets nothing parses nothing."""
    values: dict[str, dict[str, Any]] = {"run": {}, "knobs": {}}
    for spec in SETTINGS:
        given = lookup(spec, option, ini)
        if given is not None:
            raw, source = given
            values[spec.group][spec.name] = spec.kind.parse(source, raw, rootdir)
    run = values["run"]
    if run.get("run_name") is None and run.get("shard") is not None:
        run["run_name"] = github_run_name()
    return Settings(rootdir=rootdir, knobs=OptimizeSettings(**values["knobs"]), **run)


def github_run_name() -> str | None:
    """`gh-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>` under GitHub Actions (both set), else None:
    the default run name of a sharded session, which every job of the workflow run shares."""
    run_id, attempt = os.environ.get("GITHUB_RUN_ID"), os.environ.get("GITHUB_RUN_ATTEMPT")
    return f"gh-{run_id}-{attempt}" if run_id and attempt else None
