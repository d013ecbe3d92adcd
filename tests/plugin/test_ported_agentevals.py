"""A suite ported from the agentevals trajectory-match examples (a weather agent): its four
match modes, its tool-argument match and its trajectory judge, as promptopt checks.

Ported constructs (also listed in the README's migration note):
`create_trajectory_match_evaluator(trajectory_match_mode="strict")` -> `tool_sequence: [...]`
(`order: exact`); `"unordered"` -> `order: any_order`; `"subset"` -> `order: subset`;
`"superset"` -> `order: superset`; `tool_args_match_mode="exact"` -> `tool_input` with a
`const` schema; the reference's ToolMessages -> the case's `tool_results`;
`create_trajectory_llm_as_judge(prompt=TRAJECTORY_ACCURACY_PROMPT)` -> the `tool_use`
criterion.
"""

from __future__ import annotations

import pytest

from tests.support.plugin import outcomes_by_case, write_suite

WEATHER = """
name: weather
description: A weather agent (ported from the agentevals trajectory match examples).
prompt: >
  You are a weather assistant. When the user asks about the weather in a city, use
  get_weather for that city. If get_weather says it is sunny, call get_detailed_forecast for
  the same city.
tools:
  - name: get_weather
    description: Get weather information for a city.
    input_schema: {type: object, properties: {city: {type: string}}, required: [city]}
  - name: get_detailed_forecast
    description: Get the detailed weather forecast for a city.
    input_schema: {type: object, properties: {city: {type: string}}, required: [city]}
  - name: get_directions
    description: Get directions to a destination.
    input_schema: {type: object, properties: {destination: {type: string}}, required: [destination]}
criteria: {functionality: 1.0, tool_use: 1.0}
variants:
  as_written: {}
  no_forecast:
    prompt: >
      You are a weather assistant. When the user asks about the weather in a city, use
      get_weather for that city.
cases:
  - id: strict
    input: What is the weather in San Francisco?
    tool_results:
      get_weather: "It's 80 degrees and cloudy in San Francisco."
    expected: Looks the weather up for San Francisco and says it is 80 degrees and cloudy
    assert:
      - tool_sequence: [get_weather]
      - tool_input: {name: get_weather, json_schema: {properties: {city: {const: San Francisco}}}}
  - id: superset
    input: What's the weather in Boston?
    tool_results:
      get_weather: "It's 75 degrees and sunny in Boston."
      get_detailed_forecast: "Detailed forecast for Boston: sunny all week."
    expected: Looks up the weather and detailed forecast for Boston, says it is sunny all week
    assert:
      - tool_sequence: [get_weather]
        order: superset
      - tool_sequence: [get_detailed_forecast, get_weather]
        order: any_order
      - tool_sequence: [get_weather, get_detailed_forecast, get_directions]
        order: subset
      - tool_sequence: [get_weather, get_detailed_forecast]
        order: in_order
      - not: {tool_sequence: [get_weather], order: exact}
"""


def test_the_ported_agentevals_suite_passes_and_catches_a_variant_that_skips_a_tool(
    sim: pytest.Pytester,
) -> None:
    write_suite(sim, "weather", WEATHER)
    result = sim.runpytest("-p", "no:cacheprovider", "-rA")
    assert outcomes_by_case(result) == {
        "weather.promptopt.yaml::weather[strict@as_written]": "PASSED",
        "weather.promptopt.yaml::weather[superset@as_written]": "PASSED",
        "weather.promptopt.yaml::weather[strict@no_forecast]": "PASSED",
        "weather.promptopt.yaml::weather[superset@no_forecast]": "FAILED",
    }
    out = result.stdout.str()
    assert (
        "failed check: tool_sequence ['get_detailed_forecast', 'get_weather'] "
        "(called: get_weather (any_order))"
    ) in out
    assert "failed check: not tool_sequence ['get_weather'] (called: get_weather)" in out
