"""Tools the agent-loop tests run by import path (`tests.support.agent_tools:NAME`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

EVENTS: list[str] = []
"""What the async tools did, in order (cleared by each test)."""


async def slow_lookup(tool_input: dict[str, Any]) -> dict[str, Any]:
    """An order's status, after yielding to the loop a few times."""
    EVENTS.append(f"start lookup {tool_input.get('order_id')}")
    for _ in range(3):
        await asyncio.sleep(0)
    EVENTS.append(f"end lookup {tool_input.get('order_id')}")
    return {"order_id": tool_input.get("order_id"), "status": "delivered"}


def refund(tool_input: dict[str, Any]) -> str:
    """A refund reference; ValueError for the order `bad`."""
    if tool_input.get("order_id") == "bad":
        raise ValueError("payment service refused the refund")
    return f"refunded {tool_input.get('order_id')}"


def blocks(tool_input: dict[str, Any]) -> list[dict[str, Any]]:
    """Content blocks as a result."""
    return [{"type": "text", "text": "from blocks"}]


def unserializable(tool_input: dict[str, Any]) -> object:
    """Something that is not JSON."""
    return object()


def sleeper(tool_input: dict[str, Any]) -> str:
    """Sleeps past a short timeout."""
    time.sleep(0.5)
    return "late"
