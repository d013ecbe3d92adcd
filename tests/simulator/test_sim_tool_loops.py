"""The simulated model plays a tool loop: a follow-up tool its prompt chains to the first is
called once that tool's result meets the condition, then it answers from the results."""

from __future__ import annotations

from typing import Any

from tests.simulator.simkit import assistant, create, text, user

SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
LOOKUP = {"name": "lookup_order", "description": "Find an order", "input_schema": SCHEMA}
REFUND = {"name": "issue_refund", "description": "Refund an order", "input_schema": SCHEMA}
AGENT = (
    "You are a refund agent. When a customer asks about an order, use lookup_order to look "
    "the order up. If lookup_order says the order was delivered, call issue_refund for that "
    "order."
)
QUESTION = "Please refund my order 5001."


def after_lookup(result: str, *, is_error: bool = False) -> list[dict[str, Any]]:
    """The conversation after the model called lookup_order and got `result`."""
    call = {"type": "tool_use", "id": "toolu_1", "name": "lookup_order",
            "input": {"order_id": "5001"}}  # fmt: skip
    answered = {"type": "tool_result", "tool_use_id": "toolu_1", "content": result}
    if is_error:
        answered["is_error"] = True
    return [user(QUESTION), assistant([call]), user([answered])]


def calls(message: Any) -> list[str]:
    """The names of the tools an answer calls."""
    return [b.name for b in message.content if b.type == "tool_use"]


def test_the_first_call_is_the_tool_the_prompt_asks_for_first() -> None:
    first = create(system=AGENT, tools=[LOOKUP, REFUND], messages=[user(QUESTION)])
    assert calls(first) == ["lookup_order"]


def test_a_result_meeting_the_condition_leads_to_the_chained_call() -> None:
    delivered = '{"order_id": "5001", "status": "delivered"}'
    reply = create(system=AGENT, tools=[LOOKUP, REFUND], messages=after_lookup(delivered))
    assert calls(reply) == ["issue_refund"] and reply.stop_reason == "tool_use"
    (block,) = [b for b in reply.content if b.type == "tool_use"]
    assert block.input == {"order_id": "5001"}


def test_a_result_that_does_not_meet_it_or_an_error_is_answered_in_text() -> None:
    shipped = '{"order_id": "5001", "status": "shipped"}'
    reply = create(system=AGENT, tools=[LOOKUP, REFUND], messages=after_lookup(shipped))
    assert calls(reply) == [] and reply.stop_reason == "end_turn"
    assert "shipped" in text(reply)
    failed = create(
        system=AGENT, tools=[LOOKUP, REFUND], messages=after_lookup("no order", is_error=True)
    )
    assert calls(failed) == [] and "error" in text(failed)


def test_the_answer_does_not_announce_a_tool_it_already_used() -> None:
    done = "Refund issued for order 5001."
    history = [
        *after_lookup('{"status": "delivered"}'),
        assistant(
            [
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "issue_refund",
                    "input": {"order_id": "5001"},
                }
            ]
        ),
        user([{"type": "tool_result", "tool_use_id": "toolu_2", "content": done}]),
    ]
    reply = create(system=AGENT, tools=[LOOKUP, REFUND], messages=history)
    assert calls(reply) == [] and done in text(reply)
    assert "use lookup_order" not in text(reply).lower()
