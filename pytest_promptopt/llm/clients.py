"""Builds the official SDK's AsyncAnthropic: real (credentials are the SDK's) or the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import MissingCredentialsError
from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.redaction import register_secret
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic

REFUSAL_STATUSES = (429, 529)
"""Answers the service retries itself (so the limiter sees them), not the SDK."""


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
    rest = (
        f"and no cached response; the Anthropic SDK says: {sdk_message.rstrip('.')}. Set "
        "ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN (or an SDK profile), replay recorded "
        "answers with --promptopt-cache=replay, or run offline with --promptopt-model=simulated"
    )
    return MissingCredentialsError(
        f"no credentials for {label} {rest}", cause=f"no credentials {rest}"
    )


def import_sdk() -> None:
    """Import the SDK and its HTTP client (about 1 s), with the collector out of the way."""
    with long_lived_imports():
        import anthropic  # noqa: F401
        import httpx2  # noqa: F401


async def _refusal_not_retried(response: httpx2.Response) -> None:
    """Mark a 429/529 answer `x-should-retry: false`, the SDK's own signal not to retry it.

    The service retries refusals itself, through the adaptive limiter (`sending.py`); the
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

            # The SDK finds its credentials itself: API key, auth token, profile or federation
            # (and ANTHROPIC_BASE_URL). None found is its TypeError at request time; a profile
            # it cannot load is its CredentialsError here. The service reports both.
            self._real = AsyncAnthropic(
                **self._options(),
                http_client=DefaultAsyncHttpxClient(event_hooks=REFUSALS_NOT_RETRIED),
            )
            # Whatever credential the SDK found is redacted from every error and record.
            register_secret(getattr(self._real, "api_key", None))
            register_secret(getattr(self._real, "auth_token", None))
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
