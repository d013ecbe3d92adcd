"""Simulated users end to end on the simulator: the user model talks to the model under test
(through the tool loop when the tools run) until its goal is reached, `stop_when` matches or
`max_turns` runs out; the conversation is stored, judged, replayed from the cache and run
under xdist, and the user model's calls are their own role."""

from __future__ import annotations

import json

import pytest

from tests.plugin.test_agents import TOOLS
from tests.support.plugin import default_db, outcomes_by_case, query, write_suite

AGENT = """
name: desk
prompt: >
  You are a refund agent. When a customer asks about an order, use lookup_order to look the
  order up. If lookup_order says the order was delivered, call issue_refund for that order.
max_steps: 4
criteria: {functionality: 1.0, conversation: 1.0}
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
  - id: reached
    user:
      persona: an impatient customer whose pan arrived scratched
      goal: a refund for order 5001
    judge: false
    assert:
      - tool_sequence: [lookup_order, issue_refund]
  - id: missed
    user:
      persona: a patient customer
      goal: a discount voucher for my birthday party
      max_turns: 3
    judge: false
    assert:
      - tool_not_called: issue_refund
"""

PLAIN = """
name: chat
prompt: You are a helpful assistant for a bakery. Answer in one short sentence.
criteria: {functionality: 1.0, conversation: 1.0}
threshold: 0.0
cases:
  - id: stopped
    input: What time do you open?
    user:
      persona: a customer
      goal: the bakery's opening hours and a gluten free cake recipe
      max_turns: 4
      stop_when: "(?i)open|hour"
"""


def _conversation(sim: pytest.Pytester, case: str) -> list[dict[str, object]]:
    """The stored trajectory of a case's latest evaluation."""
    sql = (
        "SELECT c.case_key, e.trajectory FROM evaluations e "
        "JOIN test_cases c ON c.id = e.test_case_id ORDER BY e.id"
    )
    rows = dict(query(default_db(sim), sql))
    return json.loads(rows[case])


def desk_project(sim: pytest.Pytester) -> pytest.Pytester:
    """The simulator project with the refund desk and its tools."""
    sim.makepyfile(shop_tools=TOOLS)
    write_suite(sim, "desk", AGENT)
    return sim


def test_a_simulated_user_reaches_its_goal_or_runs_out_of_turns(sim: pytest.Pytester) -> None:
    result = desk_project(sim).runpytest("-p", "no:cacheprovider", "-rA")
    assert outcomes_by_case(result) == {
        "desk.promptopt.yaml::desk[reached]": "PASSED",
        "desk.promptopt.yaml::desk[missed]": "PASSED",
    }
    reached = _conversation(sim, "reached")
    first = reached[0]
    assert first["speaker"] == "user" and first["turn"] == 1
    assert "refund for order 5001" in str(first["text"]) and "Quickly" in str(first["text"])
    assert [s["speaker"] for s in reached] == [
        "user",
        "assistant",
        "assistant",
        "assistant",
        "user",
    ]
    assert reached[-1]["goal_reached"] is True and reached[-1]["ended"] == "goal_reached"
    assert [s.get("step") for s in reached if s["speaker"] == "assistant"] == [1, 2, 3]
    missed = _conversation(sim, "missed")
    users = [s for s in missed if s["speaker"] == "user"]
    assert [u["turn"] for u in users] == [1, 2, 3, 4]
    assert not any(u.get("goal_reached") for u in users)
    assert missed[-1]["ended"] == "max_turns"
    assert max(int(s["turn"]) for s in missed if s["speaker"] == "assistant") == 3  # type: ignore[call-overload]
    assert "Sorry, I still need" in str(users[1]["text"])


def test_the_user_model_is_its_own_role_and_a_second_run_replays_it(
    sim: pytest.Pytester,
) -> None:
    project = desk_project(sim)
    first_run = project.runpytest("-p", "no:cacheprovider")
    first_run.assert_outcomes(passed=2)
    roles = dict(query(default_db(sim), "SELECT role, COUNT(*) FROM llm_calls GROUP BY role"))
    assert roles["user"] == 2 + 4  # reached: opening and thanks; missed: opening and 3 replies
    spend = next(line for line in first_run.outlines if line.startswith("spend:"))
    assert ", user 6 calls " in spend, spend
    first = _conversation(sim, "missed")
    again = project.runpytest("-p", "no:cacheprovider", "--promptopt-cache", "replay")
    again.assert_outcomes(passed=2)
    assert any("calls 0, cache hits" in line for line in again.outlines), again.outlines
    assert len(query(default_db(sim), "SELECT id FROM evaluations")) == 4
    assert _conversation(sim, "missed") == first  # the replayed conversation, word for word


def test_stop_when_ends_the_conversation_and_the_judge_scores_it(sim: pytest.Pytester) -> None:
    write_suite(sim, "chat", PLAIN)
    result = sim.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1)
    talk = _conversation(sim, "stopped")
    assert [s["speaker"] for s in talk] == ["user", "assistant"]
    assert talk[0]["text"] == "What time do you open?" and "goal_reached" not in talk[0]
    assert talk[-1]["ended"] == "stop_when"
    (reasoning,) = query(default_db(sim), "SELECT reasoning FROM evaluations")[0]
    assert "stopped by stop_when after 1 turn(s)" in reasoning
    assert not query(default_db(sim), "SELECT id FROM llm_calls WHERE role = 'user'")


def test_simulated_users_run_under_xdist(sim: pytest.Pytester) -> None:
    result = desk_project(sim).runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    rows = query(default_db(sim), "SELECT trajectory FROM evaluations")
    ended = sorted(json.loads(t)[-1]["ended"] for (t,) in rows)
    assert ended == ["goal_reached", "max_turns"]


def test_the_user_model_flag_names_the_model_the_user_calls_ask_for(sim: pytest.Pytester) -> None:
    desk_project(sim)
    flag = ("--promptopt-user-model", "claude-opus-4-1")
    sim.runpytest("-p", "no:cacheprovider", "-k", "reached", *flag).assert_outcomes(passed=1)
    asked = query(
        default_db(sim), "SELECT DISTINCT role, requested_model FROM llm_calls ORDER BY role"
    )
    assert ("user", "claude-opus-4-1") in asked
    assert all(model != "claude-opus-4-1" for role, model in asked if role != "user")
