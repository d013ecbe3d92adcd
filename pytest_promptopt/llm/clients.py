"""Builds the official SDK's AsyncAnthropic: real (credentials are the SDK's) or the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_promptopt.errors import MissingCredentialsError
from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic


# The SDK raises a TypeError with this text when it resolves no credential at request time.
_SDK_NO_CREDENTIALS = "Could not resolve authentication method"


def is_missing_credentials(exc: BaseException) -> bool:
    """True when `exc` is the SDK's own credentials error: none found, or a broken profile."""
    if isinstance(exc, TypeError):
        return _SDK_NO_CREDENTIALS in str(exc)
    if not type(exc).__module__.startswith("anthropic"):
        return False  # the plugin's own errors: no need to import the SDK to tell
    from anthropic import CredentialsError

    return isinstance(exc, CredentialsError)


def missing_credentials(label: str, exc: BaseException) -> MissingCredentialsError:
    """The one-line error for a call the SDK has no credentials for: its message and the way out."""
    sdk_message = " ".join(str(exc).strip().strip('"').split())
    return MissingCredentialsError(
        f"no credentials for {label} and no cached response; the Anthropic SDK says: "
        f"{sdk_message.rstrip('.')}. Set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN (or an SDK "
        "profile), replay recorded answers with --promptopt-cache=replay, or run offline with "
        "--promptopt-model=simulated"
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

            # The SDK finds its credentials itself: API key, auth token, profile or federation
            # (and ANTHROPIC_BASE_URL). None found is its TypeError at request time; a profile
            # it cannot load is its CredentialsError here. The service reports both.
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
