"""Checks and targets that hang until a test frees them (`tests.support.stuckcode:NAME`).

Events, not clocks: `blocker` says it has started (ENTERED) and waits for FREE, which the test
sets when it is done; `quick` waits until `blocker` is running, so it can only pass when the
two run at once (a sync check on the event loop thread would block it).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

ENTERED = threading.Event()
FREE = threading.Event()
HELD_S = 120.0  # the longest a blocked thread waits for FREE before giving up on its own


def blocker(answer: Any, case: Any) -> bool:
    """Hangs (in its thread) until FREE is set."""
    ENTERED.set()
    FREE.wait(HELD_S)
    return True


def quick(answer: Any, case: Any) -> tuple[bool, str]:
    """Passes once `blocker` is running beside it."""
    return ENTERED.wait(HELD_S), "blocker was running"


async def async_blocker(answer: Any, case: Any) -> bool:
    """Never returns on its own: waits on an event nobody sets."""
    await asyncio.Event().wait()
    return True


def stuck_target(prompt: str, case: Any, client: Any) -> str:
    """A sync target that hangs until FREE is set."""
    FREE.wait(HELD_S)
    return "too late"


def reset() -> None:
    """Fresh events for the next test."""
    ENTERED.clear()
    FREE.clear()
