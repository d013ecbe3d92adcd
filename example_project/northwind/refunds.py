"""The refund desk's tools: the team's own functions the `refund_agent` suite's tools run.

The plugin calls them with the tool input the model gave; what they return (a dict here) is
sent back to the model as the tool result, and an exception is an error result it sees.
"""

from __future__ import annotations

from typing import Any

ORDERS: dict[str, dict[str, Any]] = {
    "5001": {"item": "cast-iron frying pan", "status": "delivered", "total": 49.0},
    "5002": {"item": "chef's knife", "status": "shipped", "total": 89.0},
    "5003": {"item": "stock pot", "status": "delivered", "total": 65.0},
}
REFUNDED: set[str] = set()


def lookup_order(tool_input: dict[str, Any]) -> dict[str, Any]:
    """The order's item, status and total; KeyError for an order that does not exist."""
    order = str(tool_input.get("order_id", ""))
    if order not in ORDERS:
        raise KeyError(f"order {order} does not exist")
    return {"order_id": order, **ORDERS[order]}


async def issue_refund(tool_input: dict[str, Any]) -> str:
    """Refund a delivered order (async, as a payment client would be)."""
    order = str(tool_input.get("order_id", ""))
    found = ORDERS.get(order)
    if found is None or found["status"] != "delivered":
        raise ValueError(f"order {order} cannot be refunded: it is not delivered")
    return f"Refund issued for order {order}: {found['total']:.2f} USD, reference RF-{order}."
