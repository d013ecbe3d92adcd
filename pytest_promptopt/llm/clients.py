"""Builds the official SDK's AsyncAnthropic: real (from its own env vars) or the simulator."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pytest_promptopt.errors import MissingCredentialsError
from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic


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


class ClientPool:
    """One lazily built SDK client for real models and one for the simulator, per event loop."""

    def __init__(self, *, timeout_s: float, max_retries: int) -> None:
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
            from anthropic import AsyncAnthropic

            # The SDK reads ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL itself.
            self._real = AsyncAnthropic(timeout=self._timeout_s, max_retries=self._max_retries)
        return self._real

    def _build_simulated(self) -> AsyncAnthropic:
        import_sdk()
        import httpx2
        from anthropic import AsyncAnthropic

        from pytest_promptopt.simulator.transport import SimulatorTransport

        return AsyncAnthropic(
            api_key="simulated-no-key",
            base_url="http://simulator.promptopt.invalid",
            timeout=self._timeout_s,
            max_retries=self._max_retries,
            http_client=httpx2.AsyncClient(transport=SimulatorTransport()),
        )

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        for client in (self._real, self._simulated):
            if client is not None:
                await client.close()
        self._real = self._simulated = None
