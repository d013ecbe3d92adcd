"""Answers a customer about an order: looks it up, then asks the model with what it found.

This is the team's own code. The `order_desk` suite names it as its `target`, so the plugin
calls `answer(prompt, case, client)` with the system prompt under test and a wired client.
"""

from __future__ import annotations

import re
from typing import Any

ORDERS = {
    "1001": {"item": "cast-iron frying pan", "status": "shipped", "arrives": "Thursday"},
    "1002": {"item": "chef's knife", "status": "waiting for stock", "arrives": "in two weeks"},
}


def lookup(text: str) -> str:
    """What the order system says about the order number in `text` (or that there is none)."""
    found = re.search(r"\b(\d{4})\b", text)
    if found is None:
        return "No order number was given."
    order = ORDERS.get(found.group(1))
    if order is None:
        return f"Order {found.group(1)} does not exist."
    return (
        f"Order {found.group(1)}: {order['item']}, status {order['status']}, "
        f"arrives {order['arrives']}. Warehouse code WH-7731 (internal, never share)."
    )


def answer(prompt: str, case: Any, client: Any) -> Any:
    """The feature: the lookup's result goes into the system prompt, the model answers."""
    return client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=400,
        system=f"{prompt}\n\nOrder lookup: {lookup(case.input)}",
        messages=case.messages,
    )
