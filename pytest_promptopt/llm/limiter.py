"""Bounded concurrency that serves waiting calls in priority order, not arrival order."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

# The priority of the calls made in the current task: lower goes first. The runtime gives each
# case its position, so a case that has started (its judge call) is not queued behind the
# first calls of cases scheduled after it; the items run in that order and wait for it.
call_priority: ContextVar[float] = ContextVar("promptopt_call_priority", default=0.0)


class PriorityLimiter:
    """At most `limit` holders at once; when full, the lowest priority waiting goes next."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block."""
        await self._acquire(call_priority.get())
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: float) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the slot was handed over as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the slot goes straight to the next waiter
                return
        self._free += 1
