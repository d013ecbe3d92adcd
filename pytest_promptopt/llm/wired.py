"""Real SDK clients whose HTTP goes through the plugin: cached, capped, recorded, replayable.

`anthropic.Anthropic` and `anthropic.AsyncAnthropic` are built with an httpx2 transport that
hands each `POST /v1/messages` body to `LLMService.send` (role `target`) instead of the network,
and answers with the response the service got (from the cache, the simulator or the API). The
team's code keeps using the SDK it knows; nothing in the request it builds is changed (under the
`simulated` model the service sends every call to the simulator, whatever model the code
names). `stream=True` and `client.messages.stream()` work: the service's answer (streamed
to the API itself when its `max_tokens` needs it) comes back as the event stream of its final
message. A beta call (`client.beta.messages.create(..., betas=[...])`, the `anthropic-beta`
header) keeps its betas as the request's `betas`, which the service sends as that header and
the cache key covers. The clients carry no credentials: the service's own client does.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2

from pytest_promptopt.errors import PromptOptError

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic

    from pytest_promptopt.llm.completion import Completion, UsageMeter
    from pytest_promptopt.llm.service import LLMService

# Nothing listens here: the transport answers every request itself.
WIRED_BASE_URL = "http://wired.promptopt.invalid"
# Not a secret: the SDK wants some key; the service's client carries the real credentials.
WIRED_KEY = "promptopt-wired-no-key"


@dataclass
class CallScope:
    """Who is calling: the case and sample a target's calls belong to, and where usage goes."""

    label: str
    sample: int = 0
    meter: UsageMeter | None = None
    answers: list[Completion] = field(default_factory=list)
    # Time spent in the plugin's model calls, which a target's own timeout does not count.
    in_flight: int = 0
    _flight_started: float = 0.0
    _waited_s: float = 0.0

    def call_started(self) -> None:
        """A wired call of this scope went out (on the loop thread)."""
        if not self.in_flight:
            self._flight_started = time.monotonic()
        self.in_flight += 1

    def call_ended(self) -> None:
        """A wired call of this scope came back."""
        self.in_flight -= 1
        if not self.in_flight:
            self._waited_s += time.monotonic() - self._flight_started

    def waited_s(self) -> float:
        """Seconds so far with at least one of this scope's model calls in flight."""
        running = time.monotonic() - self._flight_started if self.in_flight else 0.0
        return self._waited_s + running


_scope: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar(
    "promptopt_call_scope", default=None
)


@contextmanager
def call_scope(scope: CallScope) -> Iterator[CallScope]:
    """Attribute the wired clients' calls made inside this block (and its threads) to `scope`."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


class WiredCallError(PromptOptError):
    """A wired call the plugin refused or could not make (cache miss in replay, cap, API error)."""


def _error_response(
    request: httpx2.Request, status: int, kind: str, message: str
) -> httpx2.Response:
    """An API-shaped error answer (the SDK raises it as its own APIStatusError)."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return httpx2.Response(
        status,
        headers={"content-type": "application/json", "x-should-retry": "false"},
        content=json.dumps(body).encode(),
        request=request,
    )


class _Router:
    """Turns one HTTP request of a wired client into a service call (shared by both transports)."""

    def __init__(self, llm: LLMService, loop: asyncio.AbstractEventLoop) -> None:
        self.llm = llm
        self.loop = loop
        # The last refusal per scope, so the caller can report it with its own cause.
        self.failures: dict[int, PromptOptError] = {}

    def parse(self, request: httpx2.Request, raw: bytes) -> dict[str, Any] | httpx2.Response:
        """The Messages request body, or an error response for what the wired client refuses."""
        if request.method != "POST" or request.url.path.rstrip("/") != "/v1/messages":
            return _error_response(
                request,
                404,
                "not_found_error",
                f"{request.method} {request.url.path}: the promptopt client serves "
                "messages.create only",
            )
        body: dict[str, Any] = json.loads(raw)
        betas = [
            name.strip()
            for value in request.headers.get_list("anthropic-beta")
            for name in value.split(",")
            if name.strip()
        ]
        if betas:
            body["betas"] = betas
        return body

    async def send(self, body: dict[str, Any], scope: CallScope | None) -> Completion:
        """The service's answer to a request body, counted in the scope's usage."""
        label = scope.label if scope is not None else "a promptopt client call"
        sample = scope.sample if scope is not None else 0
        if scope is not None:
            scope.call_started()
        try:
            completion = await self.llm.send(body, sample, role="target", label=label)
        finally:
            if scope is not None:
                scope.call_ended()
        if scope is not None:
            if scope.meter is not None:
                scope.meter.add(completion)
            scope.answers.append(completion)
        return completion

    def answer(
        self,
        request: httpx2.Request,
        outcome: Completion | BaseException,
        scope: CallScope | None,
        streamed: bool = False,
    ) -> httpx2.Response:
        """The HTTP answer for a finished service call (an error answer for a refused one);
        `streamed`: the answer as the event stream of `stream=True` / `messages.stream()`."""
        if isinstance(outcome, PromptOptError):
            if scope is not None and scope.meter is not None:  # a target's: its runner reports it
                self.failures[id(scope)] = outcome
            return _error_response(request, 503, "promptopt_error", str(outcome))
        if isinstance(outcome, BaseException):
            raise outcome
        if streamed:
            from pytest_promptopt.simulator.stream import STREAM_HEADERS, sse_body

            return httpx2.Response(
                200,
                headers={**STREAM_HEADERS, "request-id": outcome.request_hash},
                content=sse_body(outcome.response),
                request=request,
            )
        return httpx2.Response(
            200,
            headers={"content-type": "application/json", "request-id": outcome.request_hash},
            content=json.dumps(outcome.response).encode(),
            request=request,
        )


async def _settle(router: _Router, body: dict[str, Any], scope: CallScope | None) -> Any:
    """The service call's completion, or the PromptOptError it raised (returned, not raised)."""
    try:
        return await router.send(body, scope)
    except PromptOptError as exc:
        return exc


class AsyncWiredTransport(httpx2.AsyncBaseTransport):
    """The async transport: awaits the service on its loop (hopping there from another loop)."""

    def __init__(self, router: _Router) -> None:
        self._router = router

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send one request through the service."""
        parsed = self._router.parse(request, await request.aread())
        if isinstance(parsed, httpx2.Response):
            return parsed
        streamed = bool(parsed.pop("stream", False))  # the service decides how it sends
        scope = _scope.get()
        work = _settle(self._router, parsed, scope)
        if asyncio.get_running_loop() is self._router.loop:
            outcome = await work
        else:  # a test's own event loop: the service lives on the plugin's loop
            future = asyncio.run_coroutine_threadsafe(work, self._router.loop)
            outcome = await asyncio.wrap_future(future)
        return self._router.answer(request, outcome, scope, streamed)


class WiredTransport(httpx2.BaseTransport):
    """The blocking transport: waits for the service on the plugin's loop (from another thread)."""

    def __init__(self, router: _Router) -> None:
        self._router = router

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send one request through the service and wait for its answer."""
        parsed = self._router.parse(request, request.read())
        if isinstance(parsed, httpx2.Response):
            return parsed
        streamed = bool(parsed.pop("stream", False))  # the service decides how it sends
        scope = _scope.get()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._router.loop:
            raise WiredCallError(
                "the blocking promptopt client was called on the plugin's event loop; "
                "an async target gets the AsyncAnthropic client: await its calls"
            )
        future = asyncio.run_coroutine_threadsafe(
            _settle(self._router, parsed, scope), self._router.loop
        )
        return self._router.answer(request, future.result(), scope, streamed)


class WiredClients:
    """The wired `Anthropic` and `AsyncAnthropic` of one service, built on first use."""

    def __init__(self, llm: LLMService, loop: asyncio.AbstractEventLoop) -> None:
        self._router = _Router(llm, loop)
        self._sync: Anthropic | None = None
        self._async: AsyncAnthropic | None = None

    def failure(self, scope: CallScope | None) -> PromptOptError | None:
        """The plugin's own reason for the last refused call of `scope` (and forget it)."""
        return self._router.failures.pop(id(scope), None)

    @property
    def sync(self) -> Anthropic:
        """An `anthropic.Anthropic` whose calls go through the plugin."""
        if self._sync is None:
            from pytest_promptopt.llm.clients import import_sdk

            import_sdk()
            from anthropic import Anthropic

            self._sync = Anthropic(
                api_key=WIRED_KEY,
                base_url=WIRED_BASE_URL,
                max_retries=0,  # the service's own client retries the real call
                http_client=httpx2.Client(transport=WiredTransport(self._router)),
            )
        return self._sync

    @property
    def async_(self) -> AsyncAnthropic:
        """An `anthropic.AsyncAnthropic` whose calls go through the plugin."""
        if self._async is None:
            from pytest_promptopt.llm.clients import import_sdk

            import_sdk()
            from anthropic import AsyncAnthropic

            self._async = AsyncAnthropic(
                api_key=WIRED_KEY,
                base_url=WIRED_BASE_URL,
                max_retries=0,
                http_client=httpx2.AsyncClient(transport=AsyncWiredTransport(self._router)),
            )
        return self._async
