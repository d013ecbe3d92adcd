"""The simulated model answers conversations and content blocks as the Messages API sends them."""

from __future__ import annotations

import json

from tests.simulator.simkit import SHOP, assistant, b64, create, pdf, png, text, user
from tests.support.llm import LOOKUP

REFUND_RULE = "When a customer asks for a refund, state the 30-day refund policy."


def test_remembers_a_name_given_earlier() -> None:
    history = [user("Hi, my name is Priya."), assistant("Hello! How can I help?")]
    msg = create(system=SHOP, messages=[*history, user("What is my name?")])
    assert msg.stop_reason == "end_turn"
    assert "Your name is Priya." in text(msg)
    fresh = create(system=SHOP, messages=[user("What is my name?")])
    assert "Priya" not in text(fresh) and "haven't told me your name" in text(fresh)


def test_remembers_an_order_number_given_earlier() -> None:
    history = [
        user("My parcel is late, the order number is ORD-7781."),
        assistant("Sorry about that."),
        user("Also, can I change the delivery address?"),
        assistant("Yes, you can."),
    ]
    msg = create(system=SHOP, messages=[*history, user("Can you remind me of my order number?")])
    assert "Your order number is ORD-7781." in text(msg)


def test_follow_up_about_it_is_answered_from_the_earlier_turn() -> None:
    system = f"{SHOP} {REFUND_RULE}"
    history = [user("I want a refund for my kettle, order 5512."), assistant("I can help.")]
    msg = create(system=system, messages=[*history, user("How long do I have for it?")])
    answer = text(msg)
    assert "30-day refund policy" in answer
    assert "your order 5512, as you mentioned earlier" in answer
    alone = text(create(system=system, messages=[user("How long do I have for it?")]))
    assert "30-day" not in alone and "5512" not in alone


def test_an_attached_image_is_acknowledged_with_its_format_size_and_bytes() -> None:
    image = png(640, 480)
    block = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": b64(image)},
    }
    msg = create(
        system=SHOP, messages=[user([block, {"type": "text", "text": "Is this damage covered?"}])]
    )
    assert len(image) < 1000
    assert f"I can see the attached image (PNG, 640x480, {len(image)} bytes)." in text(msg)
    plain = create(system=SHOP, messages=[user("Is this damage covered?")])
    assert msg.usage.input_tokens - plain.usage.input_tokens == 640 * 480 // 750


def test_an_image_alone_is_not_an_empty_message() -> None:
    block = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": b64(png(8, 8))},
    }
    answer = text(create(system=SHOP, messages=[user([block])]))
    assert "I can see the attached image (PNG, 8x8" in answer
    assert "empty" not in answer


def test_a_text_document_is_quoted_and_answers_the_question() -> None:
    policy = (
        "Returns are accepted within 30 days of delivery for unused items. "
        "Refunds reach your card within five business days."
    )
    doc = {
        "type": "document",
        "title": "Returns policy",
        "source": {"type": "text", "media_type": "text/plain", "data": policy},
    }
    question = {"type": "text", "text": "How long until the refund reaches my card?"}
    answer = text(create(system=SHOP, messages=[user([doc, question])]))
    assert 'the attached text document "Returns policy"' in answer
    assert (
        'which begins: "Returns are accepted within 30 days of delivery for unused items. '
        'Refunds..."' in answer
    )
    assert 'The document says: "Refunds reach your card within five business days."' in answer


def test_pdf_documents_plain_and_compressed_are_read() -> None:
    for compress in (False, True):
        data = pdf("Invoice 4411: total due 42 EUR", compress=compress)
        doc = {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": b64(data)},
        }
        answer = text(
            create(
                system=SHOP,
                messages=[user([doc, {"type": "text", "text": "What is the total due?"}])],
            )
        )
        assert f"the attached PDF document (1 page, {len(data)} bytes)" in answer
        assert 'which begins: "Invoice 4411: total due 42 EUR"' in answer


def test_a_tool_result_is_stated_in_a_text_answer() -> None:
    system = f"{SHOP} When a customer asks about an order, use lookup_order."
    call = {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "lookup_order",
        "input": {"order": "A-4411"},
    }
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": json.dumps({"status": "shipped", "carrier": "DHL"}),
    }
    messages = [user("Where is my order A-4411?"), assistant([call]), user([result])]
    msg = create(system=system, tools=[LOOKUP], messages=messages)
    assert msg.stop_reason == "end_turn"
    assert [b.type for b in msg.content] == ["text"]
    assert "According to lookup_order, the status is shipped, the carrier is DHL." in text(msg)
    assert "lookup_order" not in text(msg).split("DHL.")[1]  # the done directive is not repeated


def test_a_tool_error_is_reported() -> None:
    call = {"type": "tool_use", "id": "toolu_9", "name": "lookup_order", "input": {"order": "Z-1"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_9",
        "content": [{"type": "text", "text": "no such order"}],
        "is_error": True,
    }
    messages = [user("Where is order Z-1?"), assistant([call]), user([result])]
    msg = create(system=SHOP, tools=[LOOKUP], messages=messages)
    assert "Unfortunately lookup_order reported an error: no such order" in text(msg)
