"""The httpx2 transport that answers Messages API calls offline with the simulator."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx2

from pytest_promptopt.simulator.core import Simulator
from pytest_promptopt.simulator.request import sample_of


class SimulatorTransport(httpx2.AsyncBaseTransport):
    """An async httpx2 transport answering Messages API calls with the simulator."""

    def __init__(self, *, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.simulator = Simulator()

    @property
    def calls(self) -> Counter[str]:
        """Requests served so far, by role (`target`, `judge`, `prompts`, `cases`, ...)."""
        return self.simulator.calls

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request, after the configured latency."""
        raw = await request.aread()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        status, headers, body = self.simulator.respond(
            request.method, request.url.path, raw, sample=sample_of(request.headers)
        )
        return httpx2.Response(status, headers=headers, content=body, request=request)
