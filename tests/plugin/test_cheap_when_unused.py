"""Installed but unused, the plugin costs (almost) nothing; `-p no:promptopt` turns it off."""

from __future__ import annotations

import json

import pytest

from tests.support.plugin import SIM_INI, write_suite

# One case checked without a judge: runs offline on the simulator, and nothing in it needs one.
HELLO = """
prompt: You are a helpful assistant.
cases:
  - id: a
    input: hello
    judge: false
    assert: [{max_chars: 5000}]
"""

PROBE_CONFTEST = """
import json
import sys

import pytest

HEAVY = (
    "anthropic", "sqlalchemy", "alembic", "httpx2", "jinja2", "jsonschema", "pydantic", "scipy"
)


def _write(tag):
    with open("modules.json", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"hook": tag, **{m: m in sys.modules for m in HEAVY}}) + "\\n")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    _write("sessionfinish")


def pytest_unconfigure(config):
    _write("unconfigure")
"""


def _probe(pytester: pytest.Pytester) -> list[dict[str, object]]:
    lines = (pytester.path / "modules.json").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_plain_project_imports_nothing_heavy_and_creates_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROBE_CONFTEST)
    pytester.makepyfile(test_x="def test_x():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    probes = _probe(pytester)
    assert [p["hook"] for p in probes] == ["sessionfinish", "unconfigure"]
    for probe in probes:
        assert probe["anthropic"] is False, probe
        assert probe["sqlalchemy"] is False, probe
        assert probe["alembic"] is False, probe
        assert probe["scipy"] is False, probe
        assert probe["pydantic"] is False, probe  # the roles' hooks load no model class
    assert not (pytester.path / ".promptopt").exists()
    result.stdout.no_fnmatch_line("*= promptopt =*")
    result.stdout.fnmatch_lines(["plugins:*promptopt*"])  # it was loaded, just unused


def test_a_suite_run_does_import_them(pytester: pytest.Pytester) -> None:
    """The probe itself works: a project with a suite does load the heavy parts."""
    pytester.makeini(SIM_INI)
    pytester.makeconftest(PROBE_CONFTEST)
    write_suite(pytester, "s", HELLO)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    final = _probe(pytester)[-1]
    assert final["anthropic"] is True and final["sqlalchemy"] is True
    assert (pytester.path / ".promptopt" / "promptopt.db").is_file()


def test_p_no_promptopt_disables_the_plugin(pytester: pytest.Pytester) -> None:
    write_suite(pytester, "s", HELLO)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    collected = pytester.runpytest("-p", "no:promptopt", "--collect-only", "-q")
    collected.stdout.fnmatch_lines(["test_x.py::test_x", "1 test collected*"])
    collected.stdout.no_fnmatch_line("*s.promptopt.yaml*")
    result = pytester.runpytest("-p", "no:promptopt")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= promptopt =*")
    result.stdout.no_fnmatch_line("plugins:*promptopt*")
    assert not (pytester.path / ".promptopt").exists()
    # Its flags are gone too.
    usage = pytester.runpytest("-p", "no:promptopt", "--promptopt-model=simulated")
    assert usage.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    ("args", "outcome", "heavy"),
    [
        (["--collect-only"], "*2 tests collected*", False),
        (["-k", "test_x"], "*1 passed, 1 deselected*", False),
        ([], "*2 passed*", True),
    ],
    ids=["collect-only", "all-cases-deselected", "a-case-runs"],
)
def test_no_case_to_run_imports_nothing_heavy_even_with_the_cache_off(
    pytester: pytest.Pytester, args: list[str], outcome: str, heavy: bool
) -> None:
    """With the cache off the SDK is imported ahead of time, but only when cases will run.

    The run with a case to run is the same project and flags: there the probe does see the SDK,
    the database layer and the database, so the other two runs' False is not a probe that
    cannot see them.
    """
    pytester.makeini(SIM_INI)
    pytester.makeconftest(PROBE_CONFTEST)
    pytester.makepyfile(test_x="def test_x():\n    assert True\n")
    write_suite(pytester, "s", HELLO)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--promptopt-cache=off", *args)
    result.stdout.fnmatch_lines([outcome])
    probes = _probe(pytester)
    assert [p["hook"] for p in probes] == ["sessionfinish", "unconfigure"]
    for probe in probes:
        assert probe["anthropic"] is heavy and probe["sqlalchemy"] is heavy, probe
    assert (pytester.path / ".promptopt").exists() is heavy


ORDER_CONFTEST = """
import pytest

EVENTS = []


def pytest_configure(config):
    from pytest_promptopt.engine.runtime import Runtime

    warm_up = Runtime.warm_up

    def recorded(self):
        EVENTS.append("warm_up")
        warm_up(self)

    Runtime.warm_up = recorded


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    EVENTS.append(f"start {item.name}")
    try:
        return (yield)
    finally:
        EVENTS.append(f"end {item.name}")


def pytest_unconfigure(config):
    with open("events.txt", "w", encoding="utf-8") as fh:
        fh.write("\\n".join(EVENTS))
"""


def test_tests_that_run_before_the_cases_do_not_run_beside_the_sdk_import(
    pytester: pytest.Pytester,
) -> None:
    """The import ahead of time (and the gc.freeze that ends it) waits for the first case."""
    pytester.makeini(SIM_INI)
    pytester.makeconftest(ORDER_CONFTEST)
    pytester.makepyfile(
        test_a_first="""
        import sys

        from conftest import EVENTS

        def test_plain():
            assert "warm_up" not in EVENTS  # the SDK import was not started yet
            assert "anthropic" not in sys.modules
        """
    )
    write_suite(pytester, "z_suite", HELLO)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--promptopt-cache=off")
    result.assert_outcomes(passed=2)
    events = (pytester.path / "events.txt").read_text(encoding="utf-8").splitlines()
    # The import ahead of time did start, after the plain test and before the case ran.
    assert "warm_up" in events, events
    assert (
        events.index("end test_plain") < events.index("warm_up") < events.index("end z_suite[a]")
    ), events
