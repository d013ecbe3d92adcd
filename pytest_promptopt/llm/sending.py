"""One request through the SDK, its 429/529 refusals retried through the adaptive limiter."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import LLMError
from pytest_promptopt.llm.limiter import Permit
from pytest_promptopt.llm.send_options import request_timeout, with_prompt_cache, with_sample

if TYPE_CHECKING:
    from pytest_promptopt.llm.clients import ClientPool
    from pytest_promptopt.llm.limiter import AdaptiveLimiter
    from pytest_promptopt.llm.models import ModelRules

RATE_LIMIT_PATIENCE_S = 600.0
"""How long one call keeps retrying 429/529 refusals before it is an item error."""
REFUSAL_BACKOFF_S = (0.5, 16.0)
"""First and longest wait before retrying a refusal that gave no `retry-after`."""


class Sender:
    """Sends built requests through the SDK clients; refusals shrink and requeue on the limiter."""

    def __init__(
        self,
        clients: ClientPool,
        limiter: AdaptiveLimiter,
        *,
        timeout_s: float | None,
        rate_limit_patience_s: float = RATE_LIMIT_PATIENCE_S,
    ) -> None:
        """`timeout_s` None sizes each request's timeout from its max_tokens."""
        self.clients = clients
        self.limiter = limiter
        self.timeout_s = timeout_s
        self.rate_limit_patience_s = rate_limit_patience_s

    async def send(
        self,
        request: dict[str, Any],
        *,
        role: str,
        label: str,
        rules: ModelRules,
        permit: Permit | None,
        sample: int = 0,
    ) -> dict[str, Any]:
        """Send through the SDK, retrying 429/529 refusals here so the limiter adapts to them.

        The SDK retries the other transient failures (5xx, timeouts, connection errors); a
        refusal gives the slot (`permit`) back, shrinks the limit, and queues the call again
        after any `retry-after`, until `rate_limit_patience_s` has passed since the first one.
        """
        import anthropic

        client = self.clients.for_model(request["model"])
        wire = with_sample(with_prompt_cache(request), sample)  # the sample: a header only
        # A suite's `params: {timeout: S}` is the SDK's keyword, not a body field: it wins over
        # the sized timeout (and `--promptopt-timeout`) for that suite's calls.
        own_timeout = wire.pop("timeout", None)
        max_tokens = int(request["max_tokens"])
        timeout = (
            float(own_timeout)
            if own_timeout is not None
            else request_timeout(max_tokens, self.timeout_s)
        )
        # The SDK refuses a non-streaming request that could take over ten minutes: stream it,
        # and keep its final message as the answer (recorded, cached and replayed the same).
        streamed = max_tokens > rules.nonstreaming_max_tokens
        first_refusal: float | None = None
        refusals = 0
        while True:
            try:
                # A beta call goes with the `anthropic-beta` header the SDK builds from `betas`.
                api = client.beta.messages if "betas" in wire else client.messages
                if streamed:
                    async with api.stream(**wire, timeout=timeout) as stream:
                        message = await stream.get_final_message()
                    headers = stream.response.headers
                else:
                    raw = await api.with_raw_response.create(**wire, timeout=timeout)
                    message = await raw.parse()
                    headers = raw.headers
            except anthropic.APIStatusError as exc:
                if exc.status_code not in (429, 529):
                    raise _status_error(exc, role, label) from None
                now = time.monotonic()
                first_refusal = first_refusal if first_refusal is not None else now
                retry_after = _retry_after_s(exc.response.headers)
                self.limiter.refused(permit or Permit(0.0, -1), retry_after)
                self.limiter.read_headers(exc.response.headers)
                refusals += 1
                if now - first_refusal > self.rate_limit_patience_s:
                    raise _refused_error(exc, role, label, refusals, now - first_refusal) from None
                backoff = 0.0
                if not retry_after:  # no wait asked for: back off exponentially instead
                    first, longest = REFUSAL_BACKOFF_S
                    backoff = min(longest, first * 2 ** (refusals - 1)) * random.uniform(0.75, 1)
                if permit is not None:
                    await self.limiter.requeue(permit, backoff)
                else:  # sent outside a slot: wait out the refusal on our own
                    await asyncio.sleep(max(backoff, retry_after or 0.0))
                continue
            except anthropic.APITimeoutError:
                raise LLMError(
                    f"{role} call for {label} timed out after {timeout:g} s and retries "
                    "(raise --promptopt-timeout if the model is just slow)"
                ) from None
            except anthropic.APIConnectionError as exc:
                raise LLMError(
                    f"{role} call for {label} could not connect after retries: "
                    f"{exc.__cause__ or exc}"
                ) from None
            self.limiter.succeeded(headers)
            dumped: dict[str, Any] = message.model_dump(mode="json", exclude_none=True)
            if streamed:  # what the accumulated message adds to a plain one
                for block in dumped.get("content") or []:
                    if isinstance(block, dict):
                        block.pop("parsed_output", None)
            return dumped


def _status_error(exc: Any, role: str, label: str) -> LLMError:
    """The item error of an HTTP error answer the SDK gave up on."""
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = (body.get("error") or {}).get("message") if body else None
    return LLMError(
        f"{role} call for {label} failed after retries: HTTP {exc.status_code}"
        f" {detail or exc.message} (request id {exc.request_id or 'unknown'})",
        status=exc.status_code,
        request_id=exc.request_id,
    )


def _refused_error(exc: Any, role: str, label: str, refusals: int, waited_s: float) -> LLMError:
    """The item error of a call refused (429/529) for longer than the service waits."""
    if exc.status_code == 429:
        cause, why = "rate limited (429)", "the account's limits left no room"
    else:
        cause, why = "overloaded (529)", "the API stayed overloaded"
    return LLMError(
        f"{role} call for {label} was {cause} {refusals} times over {waited_s:.0f} s: {why}; "
        f"lower --promptopt-concurrency or run later (request id {exc.request_id or 'unknown'})",
        status=exc.status_code,
        request_id=exc.request_id,
    )


def _retry_after_s(headers: Any) -> float | None:
    """The wait a refusal asks for (`retry-after-ms`, or `retry-after` in seconds), or None."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None
