"""What the model under test is sent and what comes back, end to end on the simulator.

Templates and vars, tools and the tool checks, params, a cut answer, the cache key of an
image, and `turns:` cases; the requests are read back from `llm_calls`, the answers from
`evaluations`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.llm.params import accepted_params
from tests.support.llm import LOOKUP
from tests.support.plugin import (
    default_db,
    outcomes_by_case,
    query,
    run_ids,
    summary_lines,
    write_suite,
)

LOOKUP_SCHEMA = "{type: object, properties: {order: {type: string}}, required: [order]}"
TOOLS = textwrap.indent(
    f"""tools:
  - name: lookup_order
    description: Find an order by its number
    input_schema: {LOOKUP_SCHEMA}
tool_choice: {{type: auto}}""",
    " " * 8,
)
"""The tool offered, indented as the suites below are (placed at the start of a line)."""
TOLD = (
    "You are a support assistant for Northwind. "
    "When a customer asks about an order, use lookup_order to find it."
)
A_ORDER = "{type: object, properties: {order: {type: string, pattern: '^A-'}}, required: [order]}"
ANY = "[{max_chars: 100000}]"  # a check every answer passes, for unjudged cases


def target_requests(db: Path) -> list[dict[str, Any]]:
    """The requests sent to the model under test, in the order they were recorded."""
    rows = query(db, "SELECT request FROM llm_calls WHERE role = 'target' ORDER BY id")
    return [json.loads(r[0]) for r in rows]


def by_last_text(requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Requests keyed by the text of their last user message."""
    out = {}
    for request in requests:
        content = request["messages"][-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        out[text] = request
    return out


def evaluations(db: Path) -> dict[str, tuple[Any, ...]]:
    """case key -> (tool_calls is NULL, tool_calls, stop_reason) of its first sample."""
    rows = query(
        db,
        "SELECT t.case_key, e.tool_calls IS NULL, e.tool_calls, e.stop_reason FROM evaluations e"
        " JOIN test_cases t ON t.id = e.test_case_id WHERE e.sample = 0",
    )
    return {key: (bool(null), json.loads(calls) if calls else None, stop)
            for key, null, calls, stop in rows}  # fmt: skip


def test_vars_fill_the_prompt_input_and_messages_and_cases_override_them(
    sim: pytest.Pytester,
) -> None:
    write_suite(
        sim,
        "shop",
        f"""
        name: shop
        prompt: "You work for {{{{ shop }}}}."
        vars: {{shop: Northwind, item: lamp}}
        input: "Where is my {{{{ item }}}}?"
        cases:
          - {{id: defaults, judge: false, assert: {ANY}}}
          - {{id: own-vars, vars: {{shop: Acme, item: chair}}, judge: false, assert: {ANY}}}
          - id: own-input
            vars: {{shop: Globex}}
            input: "Does {{{{ shop }}}} sell a {{{{ item }}}} in blue?"
            judge: false
            assert: {ANY}
          - id: conversation
            vars: {{item: desk}}
            messages:
              - {{role: user, content: "I bought a {{{{ item }}}}."}}
              - {{role: assistant, content: "Thanks for shopping at {{{{ shop }}}}!"}}
              - role: user
                content: [{{type: text, text: "The {{{{ item }}}} is broken."}}]
            judge: false
            assert: {ANY}
        """,
    )
    result = sim.runpytest("-rA")
    result.assert_outcomes(passed=4)
    sent = by_last_text(target_requests(default_db(sim)))
    assert {text: r["system"] for text, r in sent.items()} == {
        "Where is my lamp?": "You work for Northwind.",
        "Where is my chair?": "You work for Acme.",
        "Does Globex sell a lamp in blue?": "You work for Globex.",
        "The desk is broken.": "You work for Northwind.",
    }
    assert sent["The desk is broken."]["messages"] == [
        {"role": "user", "content": "I bought a desk."},
        {"role": "assistant", "content": "Thanks for shopping at Northwind!"},
        {"role": "user", "content": [{"type": "text", "text": "The desk is broken."}]},
    ]
    # The template is what `prompts` keeps; the rendered text is what was sent.
    assert query(default_db(sim), "SELECT prompt_text FROM prompts") == [
        ("You work for {{ shop }}.",)
    ]


def test_tools_are_sent_calls_recorded_and_each_tool_check_passes_or_fails(
    sim: pytest.Pytester,
) -> None:
    write_suite(
        sim,
        "orders",
        f"""
        name: orders
        prompt: "{TOLD}"
{TOOLS}
        cases:
          - id: pass
            input: Where is my order A-4411?
            judge: false
            assert:
              - tool_called: lookup_order
              - tool_not_called: cancel_order
              - tool_input: {{name: lookup_order, json_schema: {A_ORDER}}}
              - stop_reason: tool_use
          - {{id: not-called, input: Where is my order B-17?, judge: false,
              assert: [{{tool_called: cancel_order}}]}}
          - {{id: called, input: Where is my order B-17?, judge: false,
              assert: [{{tool_not_called: lookup_order}}]}}
          - {{id: bad-input, input: Where is my order B-17?, judge: false,
              assert: [{{tool_input: {{name: lookup_order, json_schema: {A_ORDER}}}}}]}}
          - {{id: no-call, input: What are your opening hours?, judge: false,
              assert: [{{tool_input: {{name: lookup_order, json_schema: {A_ORDER}}}}}]}}
          - {{id: stop, input: Where is my order B-17?, judge: false,
              assert: [{{stop_reason: end_turn}}]}}
        """,
    )
    result = sim.runpytest("-rA")
    outcomes = outcomes_by_case(result)
    assert {k.split("::")[1]: v for k, v in outcomes.items()} == {
        "orders[pass]": "PASSED",
        "orders[not-called]": "FAILED",
        "orders[called]": "FAILED",
        "orders[bad-input]": "FAILED",
        "orders[no-call]": "FAILED",
        "orders[stop]": "FAILED",
    }
    result.stdout.fnmatch_lines(
        [
            "*failed check: tool_called 'cancel_order' (calls: lookup_order)",
            "*failed check: tool_not_called 'lookup_order' (called 1 time(s))",
            "*failed check: tool_input 'lookup_order' schema (input order: 'B-17' does not match*",
            "*failed check: tool_input 'lookup_order' schema (lookup_order was not called "
            "(no tool calls))",
            "*failed check: stop_reason 'end_turn' (stopped with tool_use)",
            '*tool calls: lookup_order({"order": "B-17"})',
        ]
    )
    db = default_db(sim)
    for request in target_requests(db):
        assert request["tools"] == [LOOKUP]
        assert request["tool_choice"] == {"type": "auto"}
    stored = evaluations(db)
    null, calls, stop = stored["pass"]
    assert not null and stop == "tool_use"
    assert [(c["name"], c["input"]) for c in calls] == [("lookup_order", {"order": "A-4411"})]
    assert calls[0]["id"].startswith("toolu_")
    assert stored["no-call"] == (True, None, "end_turn")
    (run_id,) = run_ids(db)
    reports = sim.path / ".promptopt" / "reports" / str(run_id)
    rows = {r["case_id"]: r for r in json.loads((reports / "report.json").read_text())["cases"]}
    assert rows["pass"]["stop_reason"] == "tool_use" and not rows["pass"]["truncated"]
    assert [c["input"] for c in rows["pass"]["tool_calls"]] == [{"order": "A-4411"}]
    assert rows["no-call"]["tool_calls"] == [] and rows["no-call"]["stop_reason"] == "end_turn"
    markdown = (reports / "report.md").read_text()
    assert '**tool calls: lookup\\_order({"order": "B-17"})** \u2014 ' in markdown
    assert (
        "tool calls: lookup_order({&#34;order&#34;: &#34;B-17&#34;})"
        in (reports / "report.html").read_text()
    )


def test_params_are_sent_and_an_unknown_param_is_refused_with_the_accepted_list(
    sim: pytest.Pytester,
) -> None:
    write_suite(
        sim,
        "tuned",
        """
        name: tuned
        prompt: "You are a support assistant. Wrap your answer in <answer> tags."
        params:
          max_tokens: 300
          stop_sequences: ["</answer>"]
          service_tier: auto
          extra_body: {temperature: 0.0}
        cases:
          - id: a
            input: Where is my parcel?
            judge: false
            assert: [{stop_reason: stop_sequence}]
        """,
    )
    write_suite(
        sim,
        "typo",
        f"""
        name: typo
        prompt: Be brief.
        params: {{max_tokens: 300, temperature: 0.2}}
        cases: [{{id: a, input: hi, judge: false, assert: {ANY}}}]
        """,
    )
    result = sim.runpytest("-rA", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=1)
    accepted = ", ".join(accepted_params())
    assert {"max_tokens", "stop_sequences", "thinking", "extra_body"} <= set(accepted_params())
    result.stdout.fnmatch_lines(
        [
            "*typo.promptopt.yaml: field 'params': unknown key(s) 'temperature'; the installed "
            f"anthropic SDK's messages.create accepts: {accepted}. An API field the SDK has no "
            "keyword for goes through `extra_body`, e.g. `params: {extra_body: {temperature: "
            "...}}`"
        ]
    )
    (request,) = target_requests(default_db(sim))
    assert (request["max_tokens"], request["stop_sequences"]) == (300, ["</answer>"])
    assert (request["service_tier"], request["extra_body"]) == ("auto", {"temperature": 0.0})
    assert evaluations(default_db(sim))["a"][2] == "stop_sequence"


def test_an_answer_cut_at_max_tokens_is_reported(sim: pytest.Pytester) -> None:
    write_suite(
        sim,
        "terse",
        """
        name: terse
        prompt: You are a support assistant for an online shop.
        params: {max_tokens: 5}
        cases:
          - id: cut
            input: Explain your whole return policy in detail, please.
            expected: Explains the return policy
        """,
    )
    result = sim.runpytest("-rA")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*terse[[]cut[]] FAILED*", "  answer cut at max_tokens (5)"])
    (run_id,) = run_ids(default_db(sim))
    reports = sim.path / ".promptopt" / "reports" / str(run_id)
    (row,) = json.loads((reports / "report.json").read_text())["cases"]
    assert (row["stop_reason"], row["truncated"], row["tool_calls"]) == ("max_tokens", True, [])
    assert "**answer cut at max\\_tokens** \u2014 " in (reports / "report.md").read_text()
    assert (
        '<div class="small">answer cut at max_tokens</div>' in (reports / "report.html").read_text()
    )


def _png(seed: int) -> bytes:
    """Bytes a sniffer takes for a PNG, different (also in size) for each seed."""
    return b"\x89PNG\r\n\x1a\n" + bytes([seed]) * (64 + seed)


def test_a_changed_image_file_is_a_new_call(sim: pytest.Pytester) -> None:
    (sim.path / "img").mkdir()
    photo = sim.path / "img" / "photo.png"
    photo.write_bytes(_png(1))
    write_suite(
        sim,
        "vision",
        f"""
        name: vision
        prompt: You describe photos of parcels.
        cases:
          - id: photo
            messages:
              - role: user
                content:
                  - {{type: text, text: What do you see?}}
                  - {{type: image, path: img/photo.png}}
            judge: false
            assert: {ANY}
        """,
    )
    calls = []
    for content in (_png(1), _png(1), _png(2)):
        photo.write_bytes(content)
        result = sim.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        line = summary_lines(result)["vision"]
        calls.append((int(line["calls"]), int(line["hits"])))
    assert calls == [(1, 0), (0, 1), (1, 0)]
    sent = [r["messages"][0]["content"][1]["source"] for r in target_requests(default_db(sim))]
    assert [s["media_type"] for s in sent] == ["image/png", "image/png"]
    assert sent[0]["data"] != sent[1]["data"]


def test_a_turns_case_makes_one_call_per_turn_each_cached_on_its_own(
    sim: pytest.Pytester,
) -> None:
    write_suite(
        sim,
        "chat",
        f"""
        name: chat
        prompt: "{TOLD}"
{TOOLS}
        cases:
          - id: three
            turns: ["Hi, I ordered a lamp last week.", "Where is my order A-1?", "Thanks!"]
            expected: Thanks the customer
        """,
    )
    first = sim.runpytest("-rA", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=1)
    requests = target_requests(default_db(sim))
    assert [len(r["messages"]) for r in requests] == [1, 3, 5]
    assert [m["role"] for m in requests[2]["messages"]] == [
        "user", "assistant", "user", "assistant", "user",
    ]  # fmt: skip
    # The second answer called the tool: it goes back whole, with a tool_result after it.
    answer = requests[2]["messages"][3]["content"]
    assert [b["type"] for b in answer] == ["text", "tool_use"]
    follow_up = requests[2]["messages"][4]["content"]
    assert follow_up[0]["type"] == "tool_result" and follow_up[0]["tool_use_id"] == answer[1]["id"]
    assert follow_up[1] == {"type": "text", "text": "Thanks!"}
    line = summary_lines(first)["chat"]
    assert (line["calls"], line["hits"]) == ("4", "0")  # three turns and the judge
    again = sim.runpytest("-rA", "-p", "no:cacheprovider")
    again.assert_outcomes(passed=1)
    line = summary_lines(again)["chat"]
    assert (line["calls"], line["hits"]) == ("0", "4")


def test_a_suite_timeout_param_works_end_to_end(sim: pytest.Pytester) -> None:
    # Issue 18, finding 8: `params: {timeout: 30}` collected, then every item errored with
    # "AsyncMessages.create() got multiple values for keyword argument 'timeout'".
    write_suite(
        sim,
        "timed",
        """
        prompt: Be brief.
        params: {timeout: 30, max_tokens: 200}
        cases:
          - {id: a, input: hello, judge: false, assert: [{max_chars: 100000}]}
          - {id: b, input: hi there, judge: false, assert: [{max_chars: 100000}]}
        """,
    )
    result = sim.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_input_message_stores_the_rendered_turn_of_a_suite_input_template(
    sim: pytest.Pytester,
) -> None:
    # Issue 18, finding 16: `test_cases.input_message` held `riddle=...` pairs instead of the
    # user turn the suite's `input` template made.
    write_suite(
        sim,
        "riddles",
        """
        prompt: Answer riddles.
        input: "Riddle: {{ riddle }} (level {{ level }})"
        cases:
          - {id: a, vars: {riddle: What has keys but no locks?, level: 1}, judge: false,
             assert: [{max_chars: 100000}]}
          - {id: b, input: "Plain question", judge: false, assert: [{max_chars: 100000}]}
        """,
    )
    sim.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    rows = dict(query(default_db(sim), "SELECT case_key, input_message FROM test_cases"))
    assert rows == {"a": "Riddle: What has keys but no locks? (level 1)", "b": "Plain question"}
