"""Fixtures of the plugin-level (pytester) tests; plain helpers live in `plugin_helpers.py`.

Every test gets its own pytester directory, so its own rootdir and its own default database
(`<rootdir>/.promptopt/promptopt.db`).
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil

import pytest

import pytest_promptopt
from tests.support.plugin import ENV_VARS, SIM_INI


def _preload() -> None:
    """Import the plugin's modules and heavy dependencies once, in this process.

    pytester's in-process runs restore `sys.modules` after every run, so a module first imported
    by an inner run is imported (and assertion-rewritten) again by the next one: about a second
    per run. Modules already loaded here survive. The "cheap when unused" checks run in a
    subprocess, so this does not hide a heavy import.
    """
    # numpy cannot be imported twice in one process: `--optimize`'s statistics need scipy.
    heavy = ("anthropic", "sqlalchemy", "alembic", "jinja2", "jsonschema", "hypothesis")
    for name in (*heavy, "numpy", "scipy.stats"):
        importlib.import_module(name)
    for mod in pkgutil.walk_packages(pytest_promptopt.__path__, "pytest_promptopt."):
        if "migrations" in mod.name:
            continue
        with contextlib.suppress(Exception):  # a module someone is still writing
            importlib.import_module(mod.name)


_preload()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key, base URL, promptopt setting or step summary leaks in from the outer env."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project whose ini selects the offline simulator."""
    pytester.makeini(SIM_INI)
    return pytester
