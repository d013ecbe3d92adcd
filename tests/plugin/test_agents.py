"""Agent suites end to end on the simulator: the tools run, the trajectory is stored, reported
and shown; a second run replays every step from the cache; xdist runs them too."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pytest_promptopt.cli.main import main
from pytest_promptopt.storage import Database, read_transaction
from pytest_promptopt.view.case import case_data
from tests.support.plugin import default_db, outcomes_by_case, query, run_ids, write_suite

TOOLS = """
def lookup_order(tool_input):
    order = tool_input.get("order_id")
    if order == "9999":
        raise KeyError(f"order {order} does not exist")
    return {"order_id": order, "status": "delivered"}


async def issue_refund(tool_input):
    return f"Refund issued for order {tool_input.get('order_id')}."
"""

AGENT = """
name: agent
prompt: >
  You are a refund agent. When a customer asks about an order, use lookup_order to look the
  order up. If lookup_order says the order was delivered, call issue_refund for that order.
max_steps: 4
tools:
  - name: lookup_order
    description: Find an order by its number
    input_schema: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    python: shop_tools:lookup_order
  - name: issue_refund
    description: Refund an order
    input_schema: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    python: shop_tools:issue_refund
cases:
  - id: refund
    input: Please refund my order 5001.
    judge: false
    assert:
      - tool_sequence: [lookup_order, issue_refund]
      - no_tool_errors: true
      - final: {contains: "Refund issued"}
  - id: missing
    input: Please refund my order 9999.
    judge: false
    assert:
      - tool_sequence: [lookup_order]
      - not: {no_tool_errors: true}
"""


def agent_project(sim: pytest.Pytester) -> pytest.Pytester:
    """The simulator project with the agent suite and its tools module."""
    sim.makepyfile(shop_tools=TOOLS)
    write_suite(sim, "agent", AGENT)
    return sim


def test_the_tools_run_and_the_trajectory_is_stored_reported_and_shown(
    sim: pytest.Pytester,
) -> None:
    result = agent_project(sim).runpytest("-p", "no:cacheprovider", "-rA")
    assert outcomes_by_case(result) == {
        "agent.promptopt.yaml::agent[refund]": "PASSED",
        "agent.promptopt.yaml::agent[missing]": "PASSED",
    }
    db = default_db(sim)
    rows = dict(query(db, "SELECT c.case_key, e.trajectory FROM evaluations e "
                          "JOIN test_cases c ON c.id = e.test_case_id"))  # fmt: skip
    refund = json.loads(rows["refund"])
    assert [c["name"] for s in refund for c in s["tool_calls"]] == ["lookup_order", "issue_refund"]
    assert refund[1]["results"] == [
        {"name": "issue_refund", "content": "Refund issued for order 5001.", "is_error": False}
    ]
    missing = json.loads(rows["missing"])
    assert missing[0]["results"][0]["is_error"] is True
    report_dir = max((sim.path / ".promptopt" / "reports").iterdir(), key=lambda p: int(p.name))
    report = json.loads((report_dir / "report.json").read_text())
    assert {c["case_id"]: len(c["trajectory"]) for c in report["cases"]} == {
        "refund": 3,
        "missing": 2,
    }
    assert "1. lookup_order(" in (report_dir / "report.html").read_text()
    shown = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "show", str(run_ids(db)[-1])])
    assert shown.exit_code == 0, shown.output
    assert "trajectory (3 step(s)):" in shown.output
    assert "ERROR: KeyError" in shown.output
    store = Database(f"sqlite:///{db}")
    with read_transaction(store) as repos:
        run = repos.runs.get(run_ids(db)[-1])
        (viewed,) = case_data(repos, run, "missing", "agent")["samples"]
    store.dispose()
    assert viewed["trajectory"] == missing
    assert viewed["trajectory_lines"][0] == "trajectory (2 step(s)):"


def test_a_second_run_replays_every_step_from_the_cache(sim: pytest.Pytester) -> None:
    project = agent_project(sim)
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    again = project.runpytest("-p", "no:cacheprovider", "--promptopt-cache", "replay")
    again.assert_outcomes(passed=2)
    assert any("calls 0, cache hits 5" in line for line in again.outlines), again.outlines


def test_agent_suites_run_under_xdist(sim: pytest.Pytester) -> None:
    result = agent_project(sim).runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    trajectories = query(default_db(sim), "SELECT trajectory FROM evaluations")
    assert len(trajectories) == 2 and all(t is not None for (t,) in trajectories)


def test_a_tool_whose_function_cannot_be_imported_is_a_collection_error(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "agent", AGENT)  # no shop_tools module
    result = sim.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*tool 'lookup_order', field 'python': cannot import*"])
