"""The team's own functions (`python` checks, `target`s) run off the event loop, with a timeout.

A sync function runs in a daemon thread of its own (at most `workers` at once), so a slow one
never blocks the other cases' I/O; an async one runs on the loop. Either gets
`--promptopt-check-timeout` seconds of its own time: a target's model calls through the wired
clients do not count. Past it the item is an ERROR naming the function. Python cannot stop a
thread, so a sync function that never returns keeps its thread (a daemon: it does not hold up
the end of the session) and goes on using CPU until it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import PromptOptError

if TYPE_CHECKING:
    from pytest_promptopt.llm.wired import CallScope

DEFAULT_TIMEOUT_S = 60.0


class CodeTimeoutError(PromptOptError):
    """The team's function did not return within `--promptopt-check-timeout`."""


def is_async(fn: Callable[..., Any]) -> bool:
    """True for a coroutine function (or a callable object whose `__call__` is one)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 (a callable object's method, not callable())
    )


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Resolve `future` on its loop, unless the caller already gave up on it."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class OwnCode:
    """Calls the team's functions boundedly (see the module); one per evaluator."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = 8) -> None:
        self.timeout_s = timeout_s
        self.workers = workers
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        """The running loop's bound on sync functions running at once."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.workers))
        return self._slots[1]

    async def call(
        self, fn: Callable[..., Any], *args: Any, what: str, scope: CallScope | None = None
    ) -> Any:
        """`fn(*args)` (awaited when async); CodeTimeoutError naming `what` past the timeout.

        `scope` is the target's call scope: time with its model calls in flight is not counted.
        """
        if is_async(fn):
            return await self._bounded(asyncio.ensure_future(fn(*args)), what, scope)
        async with self._semaphore():
            returned = await self._bounded(self._in_thread(fn, args), what, scope)
        if inspect.isawaitable(returned):  # a sync function that returned a coroutine
            returned = await self._bounded(asyncio.ensure_future(returned), what, scope)
        return returned

    def _in_thread(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """`fn(*args)` started in a daemon thread, its outcome a future of the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()  # carries the call scope into the thread

        def work() -> None:
            result, error = None, None
            try:
                result = context.run(fn, *args)
            except Exception as exc:  # handed to the caller, which reports it
                error = exc
            except BaseException as exc:  # SystemExit and the like end only this thread
                error = PromptOptError(f"{type(exc).__name__} {exc}".strip())
            # The loop may have closed while the function ran: then nobody waits for it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)

        name = f"promptopt-own-code-{getattr(fn, '__name__', 'fn')}"
        threading.Thread(target=work, name=name, daemon=True).start()
        return future

    async def _bounded(
        self, future: asyncio.Future[Any], what: str, scope: CallScope | None
    ) -> Any:
        """The future's result within the timeout of the function's own time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while True:
            waited = scope.waited_s() if scope is not None else 0.0
            remaining = deadline + waited - loop.time()
            if remaining > 0:
                try:
                    done, _ = await asyncio.wait({future}, timeout=remaining)
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                if done:
                    return future.result()
                continue  # its model calls may have moved the deadline on: look again
            future.cancel()
            raise CodeTimeoutError(
                f"{what} did not return within {self.timeout_s:g} s "
                "(--promptopt-check-timeout; model calls through the promptopt client do not "
                "count); a sync function keeps running in its thread, which Python cannot stop"
            )
