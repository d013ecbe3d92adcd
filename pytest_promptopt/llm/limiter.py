"""Adaptive concurrency: a limit that shrinks on refusals and grows back, served by priority.

The limit follows AIMD (as inspect-ai and TCP do): a 429/529 answer halves it, once per window
(only a refusal of a call started after the last decrease counts, so one burst of refusals is
one decrease), and every `limit` successes add one, up to the ceiling (`--promptopt-concurrency`).
A `retry-after` or an `anthropic-ratelimit-*-remaining: 0` header pauses new calls until then.
Under xdist a `SharedLimit` (the database) carries the limit and the pause between workers.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The priority of the calls made in the current task: lower goes first. The runtime gives each
# case its position, so a case that has started (its judge call) is not queued behind the
# first calls of cases scheduled after it; the items run in that order and wait for it.
call_priority: ContextVar[float] = ContextVar("promptopt_call_priority", default=0.0)

DECREASE_FACTOR = 0.5
MAX_HEADER_PAUSE_S = 60.0
"""The longest pause a `anthropic-ratelimit-*-reset` header may impose on new calls."""
RATELIMIT_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")


@dataclass(frozen=True)
class LimitState:
    """A limit as shared between processes: its value, decrease count and pause (wall time)."""

    limit: int
    generation: int
    paused_until: float


class SharedLimit(Protocol):
    """Where the workers of one session keep their common limit (see `llm/sharedlimit.py`)."""

    def refused(self, seen_generation: int, new_limit: int, paused_until: float) -> LimitState:
        """Count a refusal; decrease to `new_limit` unless another process already did."""

    def sync(self, increase: int) -> LimitState:
        """Add `increase` (up to the ceiling) and read the common state."""


@dataclass
class Permit:
    """One held slot: the limit's generation when it was granted, and its priority."""

    priority: float
    generation: int
    held: bool = True


def describe_limit(ceiling: int, lowest: int, current: int, refused: int) -> str | None:
    """One summary line on how the limit moved, or None when it never left the ceiling."""
    if lowest >= ceiling:
        return None
    back = f", back to {current}" if current > lowest else ""
    return f"concurrency {ceiling} -> {lowest} after {refused} refused requests (429/529){back}"


class AdaptiveLimiter:
    """At most `limit` holders at once (lowest priority first); the limit adapts to refusals."""

    def __init__(
        self, ceiling: int, *, shared: SharedLimit | None = None, sync_interval_s: float = 0.25
    ) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self.lowest = ceiling
        self.refused_count = 0
        self._generation = 0
        self._credit = 0.0
        self._in_use = 0
        self._paused_until = 0.0  # time.monotonic()
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._wake: asyncio.TimerHandle | None = None
        self._wake_loop: asyncio.AbstractEventLoop | None = None
        self._shared = shared
        self._sync_interval_s = sync_interval_s
        self._last_sync = 0.0
        self._unsynced_increase = 0

    # --- holding slots -----------------------------------------------------------------
    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Permit]:
        """Hold one slot for the duration of the block."""
        priority = call_priority.get()
        await self._acquire(priority)
        permit = Permit(priority, self._generation)
        try:
            yield permit
        finally:
            if permit.held:
                permit.held = False
                self._release()

    async def requeue(self, permit: Permit, wait_s: float = 0.0) -> None:
        """Give the slot back, wait `wait_s`, and queue again (after any pause) at its priority."""
        if permit.held:
            permit.held = False
            self._release()
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        await self._acquire(permit.priority)
        permit.held = True
        permit.generation = self._generation

    # --- what answers say ----------------------------------------------------------------
    def refused(self, permit: Permit, retry_after_s: float | None) -> None:
        """A 429/529: shrink once per window and pause new calls for `retry_after_s`."""
        self.refused_count += 1
        now = time.monotonic()
        if retry_after_s is not None and retry_after_s > 0:
            self._paused_until = max(self._paused_until, now + retry_after_s)
        new_limit = self.limit
        if permit.generation == self._generation:
            new_limit = max(1, int(self.limit * DECREASE_FACTOR))
            self._generation += 1
            self._credit = 0.0
            self._set_limit(new_limit)
        if self._shared is not None:
            wall_pause = time.time() + max(0.0, self._paused_until - now)
            self._adopt(self._shared.refused(permit.generation, new_limit, wall_pause))
            self._last_sync = now

    def succeeded(self, headers: Mapping[str, str] | None = None) -> None:
        """A success: one step towards one more slot; `anthropic-ratelimit-*` headers read."""
        if self.limit < self.ceiling:
            self._credit += 1.0 / self.limit
            if self._credit >= 1.0:
                self._credit -= 1.0
                self._set_limit(self.limit + 1)
                self._unsynced_increase += 1
        if headers:
            self.read_headers(headers)
        self._maybe_sync()
        self._dispatch()

    def read_headers(self, headers: Mapping[str, str]) -> None:
        """Pause new calls until the reset when a `anthropic-ratelimit-*-remaining` is 0."""
        now_wall = time.time()
        for kind in RATELIMIT_KINDS:
            remaining = headers.get(f"anthropic-ratelimit-{kind}-remaining")
            reset = headers.get(f"anthropic-ratelimit-{kind}-reset")
            if remaining is None or reset is None or remaining.strip() != "0":
                continue
            try:
                reset_wall = datetime.fromisoformat(reset.strip()).timestamp()
            except ValueError:
                continue
            wait = min(MAX_HEADER_PAUSE_S, reset_wall - now_wall)
            if wait > 0:
                self._paused_until = max(self._paused_until, time.monotonic() + wait)

    @property
    def paused_for(self) -> float:
        """Seconds until new calls may start (0 when they may now)."""
        return max(0.0, self._paused_until - time.monotonic())

    def describe(self) -> str | None:
        """How the limit moved in this process, or None when it never shrank."""
        return describe_limit(self.ceiling, self.lowest, self.limit, self.refused_count)

    # --- internals -------------------------------------------------------------------------
    def _set_limit(self, limit: int) -> None:
        self.limit = max(1, min(self.ceiling, limit))
        self.lowest = min(self.lowest, self.limit)

    def _adopt(self, state: LimitState) -> None:
        """Take the common limit and pause of the session."""
        if state.generation != self._generation:
            self._credit = 0.0
        self._generation = state.generation
        self._set_limit(state.limit)
        pause = state.paused_until - time.time()
        if pause > 0:
            self._paused_until = max(self._paused_until, time.monotonic() + pause)

    def _maybe_sync(self) -> None:
        if self._shared is None:
            return
        now = time.monotonic()
        if now - self._last_sync < self._sync_interval_s:
            return
        self._last_sync = now
        increase, self._unsynced_increase = self._unsynced_increase, 0
        self._adopt(self._shared.sync(increase))

    def _can_start(self) -> bool:
        return self._in_use < self.limit and time.monotonic() >= self._paused_until

    async def _acquire(self, priority: float) -> None:
        self._maybe_sync()
        if not self._waiting and self._can_start():
            self._in_use += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the slot was handed over as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        self._in_use -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand free slots to the waiting calls, lowest priority first; wake up after a pause."""
        while self._waiting and self._can_start():
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                self._in_use += 1
                future.set_result(None)
        if self._waiting and self._in_use < self.limit:
            loop = asyncio.get_running_loop()
            if self._wake is None or self._wake_loop is not loop:  # one wake-up per loop
                self._wake, self._wake_loop = loop.call_later(self.paused_for, self._woken), loop

    def _woken(self) -> None:
        self._wake = None
        self._maybe_sync()
        self._dispatch()
