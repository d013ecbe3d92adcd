"""A suite ported from deepeval's agent evaluation examples (a support agent with tools, and a
simulated user): its tool correctness, task completion and conversation simulator, as
promptopt checks, criteria and a `user:` case.

Ported constructs (also listed in the README's migration note):
`ToolCorrectnessMetric` (`expected_tools` all called) -> `tool_sequence: [...]`
(`order: superset`); `should_exact_match=True` -> `order: exact`;
`should_consider_ordering=True` -> `order: in_order`; `evaluation_params=[INPUT_PARAMETERS]`
-> `tool_input`; a tool `tools_called` must not hold -> `tool_not_called`;
`TaskCompletionMetric` -> `functionality` against the case's `expected` (the task), the judge
reading the trajectory; `ConversationSimulator` with a golden's `scenario`, `user_description`
and `expected_outcome` -> `user: {persona, goal, max_turns}`;
`ConversationCompletenessMetric` -> the `conversation` criterion;
`ConversationToolCorrectnessMetric` -> trajectory checks over the whole conversation.
"""

from __future__ import annotations

import json

import pytest

from tests.support.plugin import default_db, outcomes_by_case, query, write_suite

SUITE = """
name: shoes
description: A shoe shop's support agent (ported from deepeval's agent evaluation examples).
prompt: >
  You are the support agent of a shoe shop. When a customer asks about shoes that do not fit, use
  web_search to look the return policy up. When a customer asks for a flight, use
  search_flights to look flights up. If search_flights says a flight is available, call
  book_flight for that flight.
tools:
  - name: web_search
    description: Search the shop's help pages.
    input_schema: {type: object, properties: {query: {type: string}}, required: [query]}
  - name: tool_query
    description: Query the order database.
    input_schema: {type: object, properties: {query: {type: string}}, required: [query]}
  - name: search_flights
    description: Find flights to a city.
    input_schema: {type: object, properties: {city: {type: string}}, required: [city]}
  - name: book_flight
    description: Book a flight by its number.
    input_schema: {type: object, properties: {flight: {type: string}}, required: [flight]}
variants:
  as_written: {}
  no_booking:
    prompt: >
      You are the support agent of a shoe shop. When a customer asks about shoes that do not
      fit, use web_search to look the return policy up. When a customer asks for a flight,
      use search_flights to look flights up.
criteria:
  functionality: 1.0
  tool_use: 1.0
  conversation: 1.0
threshold: 0.6
cases:
  - id: tool-correctness
    input: What if these shoes don't fit?
    tool_results:
      web_search: "Returns: we offer a 30-day full refund at no extra cost."
    expected: Looks the return policy up and says there is a 30-day full refund at no extra cost
    assert:
      - tool_sequence: [web_search]
        order: superset
      - tool_sequence: [web_search]
      - tool_not_called: tool_query
      - tool_input: {name: web_search, json_schema: {type: object, required: [query]}}
  - id: conversation-simulator
    user:
      persona: a traveller in a hurry
      goal: a flight to Tokyo booked
      max_turns: 3
    tool_results:
      search_flights: "Flight NH7 to Tokyo is available."
      book_flight: "Booked flight NH7 to Tokyo."
    expected: Searches flights to Tokyo, books the flight and says it is booked
    assert:
      - tool_sequence: [search_flights, book_flight]
      - final: {icontains: "booked"}
"""


def test_the_ported_deepeval_suite_passes_and_catches_a_variant_that_never_books(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "shoes", SUITE)
    result = sim.runpytest("-p", "no:cacheprovider", "-rA")
    assert outcomes_by_case(result) == {
        "shoes.promptopt.yaml::shoes[tool-correctness@as_written]": "PASSED",
        "shoes.promptopt.yaml::shoes[conversation-simulator@as_written]": "PASSED",
        "shoes.promptopt.yaml::shoes[tool-correctness@no_booking]": "PASSED",
        "shoes.promptopt.yaml::shoes[conversation-simulator@no_booking]": "FAILED",
    }
    out = result.stdout.str()
    assert "failed check: tool_sequence ['search_flights', 'book_flight']" in out
    assert "conversation: goal not reached (max_turns after 3 turn(s))" in out
    ended = [
        json.loads(t)[-1]["ended"]
        for (t,) in query(default_db(sim), "SELECT trajectory FROM evaluations")
        if t is not None and json.loads(t)[0].get("speaker") == "user"
    ]
    # the simulated traveller gets its booking from the prompt as written, never without it
    assert sorted(ended) == ["goal_reached", "max_turns"]
