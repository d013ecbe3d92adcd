"""Builds the official SDK's AsyncAnthropic: real (from its own env vars) or the simulator."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import MissingCredentialsError
from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic

REFUSAL_STATUSES = (429, 529)
"""Answers the service retries itself (so the limiter sees them), not the SDK."""


def has_credentials() -> bool:
    """True when the SDK will find a key or token in its documented environment variables."""
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def missing_credentials(label: str) -> MissingCredentialsError:
    """The one-line error for a call nothing can answer."""
    return MissingCredentialsError(
        f"no ANTHROPIC_API_KEY set and no cached response for {label}: set ANTHROPIC_API_KEY "
        "(and ANTHROPIC_BASE_URL for a proxy or gateway), replay a recorded database with "
        "--promptopt-cache=replay, or run offline with --promptopt-model=simulated"
    )


def import_sdk() -> None:
    """Import the SDK and its HTTP client (about 1 s), with the collector out of the way."""
    with long_lived_imports():
        import anthropic  # noqa: F401
        import httpx2  # noqa: F401


async def _refusal_not_retried(response: httpx2.Response) -> None:
    """Mark a 429/529 answer `x-should-retry: false`, the SDK's own signal not to retry it.

    The service retries refusals itself, through the adaptive limiter (`service._send`); the
    SDK keeps retrying 5xx answers, timeouts and connection errors.
    """
    if response.status_code in REFUSAL_STATUSES:
        response.headers["x-should-retry"] = "false"


REFUSALS_NOT_RETRIED: dict[str, list[Any]] = {"response": [_refusal_not_retried]}


class ClientPool:
    """One lazily built SDK client for real models and one for the simulator, per event loop."""

    def __init__(self, *, timeout_s: float | None, max_retries: int) -> None:
        """`timeout_s` None keeps the SDK's default (the service passes one per request)."""
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._real: AsyncAnthropic | None = None
        self._simulated: AsyncAnthropic | None = None

    def for_model(self, model: str) -> AsyncAnthropic:
        """The client that serves `model`."""
        if model == SIMULATED_MODEL:
            if self._simulated is None:
                self._simulated = self._build_simulated()
            return self._simulated
        if self._real is None:
            import_sdk()
            from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient

            # The SDK reads ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL itself.
            self._real = AsyncAnthropic(
                **self._options(),
                http_client=DefaultAsyncHttpxClient(event_hooks=REFUSALS_NOT_RETRIED),
            )
        return self._real

    def _options(self) -> dict[str, Any]:
        """The SDK client's timeout (unless left to the SDK) and retries."""
        options: dict[str, Any] = {"max_retries": self._max_retries}
        if self._timeout_s is not None:
            options["timeout"] = self._timeout_s
        return options

    def _build_simulated(self) -> AsyncAnthropic:
        import_sdk()
        import httpx2
        from anthropic import AsyncAnthropic

        from pytest_promptopt.simulator.transport import SimulatorTransport

        return AsyncAnthropic(
            api_key="simulated-no-key",
            base_url="http://simulator.promptopt.invalid",
            **self._options(),
            http_client=httpx2.AsyncClient(
                transport=SimulatorTransport(), event_hooks=REFUSALS_NOT_RETRIED
            ),
        )

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        for client in (self._real, self._simulated):
            if client is not None:
                await client.close()
        self._real = self._simulated = None
