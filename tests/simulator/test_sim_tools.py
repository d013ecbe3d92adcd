"""The simulated model calls offered tools as its system prompt and `tool_choice` say."""

from __future__ import annotations

from typing import Any

import anthropic
import jsonschema
import pydantic
import pytest

from tests.simulator.simkit import SHOP, WEATHER, assistant, create, text, user
from tests.support.llm import LOOKUP

TOLD = f"{SHOP} When a customer asks about an order, use lookup_order to find it."


def tool_uses(msg: anthropic.types.Message) -> list[anthropic.types.ToolUseBlock]:
    """The answer's tool_use blocks."""
    return [b for b in msg.content if b.type == "tool_use"]


def test_a_prompt_naming_the_tool_makes_a_schema_valid_call() -> None:
    msg = create(system=TOLD, tools=[LOOKUP], messages=[user("Where is my order A-4411?")])
    assert msg.stop_reason == "tool_use"
    (call,) = tool_uses(msg)
    assert call.name == "lookup_order" and call.id.startswith("toolu_sim_")
    assert call.input == {"order": "A-4411"}
    jsonschema.validate(call.input, LOOKUP["input_schema"])
    assert msg.content[0].type == "text" and "lookup_order" in text(msg)  # a short preamble


def test_use_the_tool_picks_the_tool_that_fits_the_question() -> None:
    system = f"{SHOP} Use the tools when they help."
    msg = create(
        system=system,
        tools=[LOOKUP, WEATHER],
        messages=[user("What's the weather in Paris, in celsius?")],
    )
    (call,) = tool_uses(msg)
    assert call.name == "get_weather"
    assert call.input == {"city": "Paris", "unit": "celsius"}


def test_no_instruction_or_an_unrelated_question_means_a_text_answer() -> None:
    plain = create(system=SHOP, tools=[LOOKUP], messages=[user("Where is my order A-4411?")])
    assert plain.stop_reason == "end_turn" and not tool_uses(plain)
    unrelated = create(system=TOLD, tools=[LOOKUP], messages=[user("What are your opening hours?")])
    assert unrelated.stop_reason == "end_turn" and not tool_uses(unrelated)


def test_tool_choice_none_forbids_the_call() -> None:
    msg = create(
        system=TOLD,
        tools=[LOOKUP],
        tool_choice={"type": "none"},
        messages=[user("Where is my order A-4411?")],
    )
    assert msg.stop_reason == "end_turn" and not tool_uses(msg) and text(msg)


def test_forced_tool_choice_calls_that_tool_with_schema_fallbacks() -> None:
    ticket: dict[str, Any] = {
        "name": "open_ticket",
        "description": "Open a support ticket",
        "input_schema": {
            "type": "object",
            "properties": {
                "priority": {
                    "type": "string",
                    "enum": ["low", "normal", "high"],
                    "default": "normal",
                },
                "summary": {"type": "string", "minLength": 3},
                "copies": {"type": "integer", "minimum": 2},
                "reference": {"type": "string", "pattern": "^T-[0-9]{3}$", "examples": ["T-000"]},
                "notify": {"type": "boolean"},
            },
            "required": ["priority", "summary", "copies", "reference", "notify"],
            "additionalProperties": False,
        },
    }
    msg = create(
        system="Be friendly.",
        tools=[LOOKUP, ticket],
        tool_choice={"type": "tool", "name": "open_ticket"},
        messages=[user("The blender I bought arrived broken")],
    )
    assert msg.stop_reason == "tool_use"
    assert [b.type for b in msg.content] == ["tool_use"]  # a forced call has no preamble
    (call,) = tool_uses(msg)
    assert call.name == "open_ticket"
    jsonschema.validate(call.input, ticket["input_schema"])
    assert call.input["priority"] == "normal" and call.input["reference"] == "T-000"
    assert call.input["copies"] == 2 and call.input["notify"] is False
    assert "blender" in call.input["summary"]


def test_tool_choice_any_calls_the_best_fitting_tool() -> None:
    msg = create(
        system="Be friendly.",
        tools=[WEATHER, LOOKUP],
        tool_choice={"type": "any"},
        messages=[user("Has order 9981 shipped yet?")],
    )
    (call,) = tool_uses(msg)
    assert msg.stop_reason == "tool_use"
    assert call.name == "lookup_order" and call.input == {"order": "9981"}


def test_a_forced_tool_that_is_not_offered_is_a_400() -> None:
    with pytest.raises(anthropic.BadRequestError, match="no tool named 'cancel_order'"):
        create(
            system=SHOP,
            tools=[LOOKUP],
            tool_choice={"type": "tool", "name": "cancel_order"},
            messages=[user("Cancel order 12")],
        )


def test_a_pattern_property_is_filled_from_the_text() -> None:
    tool: dict[str, Any] = {
        "name": "track_parcel",
        "description": "Track a parcel",
        "input_schema": {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{6}$"}},
            "required": ["code"],
        },
    }
    msg = create(
        system="Use the track_parcel tool for parcels.",
        tools=[tool],
        messages=[user("Can you track parcel JD123456 for me?")],
    )
    (call,) = tool_uses(msg)
    assert call.input == {"code": "JD123456"}


def test_the_call_uses_an_order_number_from_an_earlier_turn() -> None:
    messages = [
        user("My order 5512 has not arrived."),
        assistant("Sorry to hear that."),
        user("Where is it now?"),
    ]
    (call,) = tool_uses(create(system=TOLD, tools=[LOOKUP], messages=messages))
    assert call.input == {"order": "5512"}


class Address(pydantic.BaseModel):
    """A nested model, so the schema has $defs and $ref."""

    city: str
    postcode: str | None = None


class Reship(pydantic.BaseModel):
    """A pydantic-generated tool schema."""

    order_id: str
    address: Address
    express: bool = False
    items: list[str] = pydantic.Field(min_length=1)


def test_a_pydantic_schema_with_refs_gets_a_valid_input() -> None:
    schema = Reship.model_json_schema()
    tool = {"name": "reship", "description": "Send an order again", "input_schema": schema}
    msg = create(
        system=SHOP,
        tools=[tool],
        tool_choice={"type": "tool", "name": "reship"},
        messages=[user("Please reship order 771 to Berlin")],
    )
    (call,) = tool_uses(msg)
    jsonschema.validate(call.input, schema)
    assert call.input["order_id"] == "771" and call.input["address"]["city"] == "Berlin"
    Reship.model_validate(call.input)


def test_an_unconditional_instruction_calls_when_the_question_gives_what_the_tool_needs() -> None:
    system = f"{SHOP} Look up the order before answering."
    with_number = create(
        system=system, tools=[LOOKUP], messages=[user("Where is my parcel #4411?")]
    )
    (call,) = tool_uses(with_number)
    assert call.input == {"order": "4411"}
    without = create(system=system, tools=[LOOKUP], messages=[user("Where is my parcel?")])
    assert not tool_uses(without)
    always = create(
        system=f"{SHOP} Always use lookup_order.",
        tools=[LOOKUP],
        messages=[user("Where is my parcel?")],
    )
    assert (
        always.stop_reason == "tool_use"
        and jsonschema.validate(tool_uses(always)[0].input, LOOKUP["input_schema"]) is None
    )


def test_the_prompt_directives_are_said_before_the_call() -> None:
    system = f"{SHOP} When a customer asks about a late order, apologise and use lookup_order."
    msg = create(system=system, tools=[LOOKUP], messages=[user("My order 8812 is late.")])
    assert msg.stop_reason == "tool_use" and tool_uses(msg)[0].input == {"order": "8812"}
    preamble = text(msg)
    assert preamble.startswith("I'm sorry, and I apologise") and "I will use" not in preamble


class Node(pydantic.BaseModel):
    """A recursive schema: every node needs its children."""

    label: str
    children: list[Node]


def test_a_recursive_schema_ends_and_validates() -> None:
    schema = Node.model_json_schema()
    tool = {"name": "tree", "description": "Store a tree", "input_schema": schema}
    msg = create(
        system=SHOP,
        tools=[tool],
        tool_choice={"type": "tool", "name": "tree"},
        messages=[user("Store my category tree")],
    )
    (call,) = tool_uses(msg)
    jsonschema.validate(call.input, schema)
    assert call.input == {"label": "store category tree", "children": []}
