"""The simulator honours max_tokens and stop_sequences, accepts other params, is deterministic."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from tests.simulator.simkit import SHOP, assistant, b64, create, png, raw, text, user
from tests.support.llm import LOOKUP

QUESTION = [user("Where is my parcel? It was due on Monday.")]


def test_max_tokens_cuts_the_answer_and_says_so() -> None:
    full = create(system=SHOP, messages=QUESTION)
    assert full.stop_reason == "end_turn" and len(text(full)) > 40
    cut = create(system=SHOP, messages=QUESTION, max_tokens=10)
    assert cut.stop_reason == "max_tokens" and cut.stop_sequence is None
    assert text(cut) == text(full)[:40]  # the usage estimate: four characters a token
    assert cut.usage.output_tokens == 10


def test_a_stop_sequence_cuts_before_its_first_occurrence() -> None:
    full = text(create(system=SHOP, messages=QUESTION))
    word = full.split()[3]
    msg = create(system=SHOP, messages=QUESTION, stop_sequences=["never-said", word])
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == word
    assert text(msg) == full[: full.index(word)]


def test_an_answer_tag_closes_at_its_stop_sequence() -> None:
    system = f"{SHOP} Wrap your answer in <answer> tags."
    whole = text(create(system=system, messages=QUESTION))
    assert whole.startswith("<answer>") and whole.endswith("</answer>")
    msg = create(system=system, messages=QUESTION, stop_sequences=["</answer>"])
    assert msg.stop_reason == "stop_sequence" and msg.stop_sequence == "</answer>"
    assert text(msg) == whole.removesuffix("</answer>")


def test_max_tokens_before_the_stop_sequence_wins() -> None:
    system = f"{SHOP} Wrap your answer in <answer> tags."
    whole = text(create(system=system, messages=QUESTION))
    msg = create(system=system, messages=QUESTION, stop_sequences=["</answer>"], max_tokens=3)
    assert msg.stop_reason == "max_tokens" and text(msg) == whole[:12]


def test_other_params_are_accepted_and_ignored() -> None:
    plain = create(system=SHOP, messages=QUESTION)
    extra: dict[str, Any] = {
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "service_tier": "standard_only",
        "metadata": {"user_id": "u-1"},
        "output_config": {"effort": "low"},
        "extra_body": {"temperature": 0.0, "top_k": 5, "made_up_field": [1, 2]},
    }
    msg = create(system=SHOP, messages=QUESTION, **extra)
    assert isinstance(msg, anthropic.types.Message)
    assert msg.stop_reason == "end_turn" and text(msg)
    assert msg.model_dump().keys() >= {"content", "stop_reason", "stop_sequence", "usage"}
    assert msg.usage.input_tokens == plain.usage.input_tokens


def test_two_clients_give_the_same_bytes_for_a_rich_request() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": b64(png(32, 16))},
    }
    request: dict[str, Any] = {
        "system": [
            {
                "type": "text",
                "text": f"{SHOP} Use lookup_order for orders.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "tools": [LOOKUP],
        "messages": [
            user([image, {"type": "text", "text": "My name is Ada, this arrived broken."}]),
            assistant("Sorry, Ada."),
            user("Can you check order 31337?"),
        ],
        "stop_sequences": ["zzz"],
    }
    first, second = raw(**request), raw(**request)
    assert first == second
    body = json.loads(first)
    assert body["stop_reason"] == "tool_use" and body["content"][-1]["input"] == {"order": "31337"}
    other = raw(**{**request, "metadata": {"user_id": "sample-2"}})
    assert json.loads(other)["id"] != body["id"]
