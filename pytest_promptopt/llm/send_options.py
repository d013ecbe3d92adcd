"""What a request carries on the wire beyond its cached body: prompt-cache marks, a timeout and
the sample index.

None changes the request hash: the cache key covers the request as built (and the sample
index), and these are added when it is sent (a short system prompt is sent exactly as built).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_promptopt.protocol import SAMPLE_HEADER

CHARS_PER_TOKEN = 4
"""Characters per token when guessing whether a prompt reaches the cacheable minimum.

English runs at about 3.5 characters a token, so 4 underestimates the tokens: a prompt is
marked only when it is surely long enough (a shorter one would be sent uncached anyway).
"""
MIN_CACHEABLE_TOKENS = (
    ("opus-4-5", 4096),
    ("opus-4-6", 4096),
    ("haiku-4-5", 4096),
    ("sonnet-4-6", 2048),
    ("haiku", 2048),
    ("sonnet", 1024),
    ("opus", 1024),
)
"""The API's minimum cacheable prompt length in tokens, by the first part of the model's name
that matches (the prompt-caching documentation's table; a shorter marked prompt is simply not
cached)."""
DEFAULT_MIN_CACHEABLE_TOKENS = 4096

TIMEOUT_BASE_S = 60.0
TIMEOUT_S_PER_TOKEN = 1 / 16
"""The time allowed per `max_tokens` token: a slow 16 tokens a second."""
MAX_SIZED_TIMEOUT_S = 600.0
"""The SDK's own ceiling for a non-streaming request (10 minutes)."""


def min_cacheable_tokens(model: str) -> int:
    """The shortest prompt (in tokens) the API caches for `model`."""
    name = model.lower()
    return next(
        (n for family, n in MIN_CACHEABLE_TOKENS if family in name), DEFAULT_MIN_CACHEABLE_TOKENS
    )


def with_prompt_cache(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request with its system prompt marked `cache_control: ephemeral` when long enough.

    The system prompt becomes one text block carrying the mark, so the prefix up to it (tools
    and system) is written to the API's prompt cache once and read by the following calls.
    A short (or absent, or already structured) system prompt leaves the request as it is.
    """
    system = request.get("system")
    if not isinstance(system, str):
        return dict(request)
    if len(system) // CHARS_PER_TOKEN < min_cacheable_tokens(str(request.get("model", ""))):
        return dict(request)
    block = {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
    return {**request, "system": [block]}


def with_sample(wire: Mapping[str, Any], sample: int) -> dict[str, Any]:
    """The request with the sample index as the `x-promptopt-sample` header (sample 1 and on).

    Samples of one request send one body; the header tells them apart for the offline
    simulator (the API ignores it). It goes in the SDK's `extra_headers`, beside any the
    suite's params set; sample 0 is sent exactly as built.
    """
    if not sample:
        return dict(wire)
    headers = {**(wire.get("extra_headers") or {}), SAMPLE_HEADER: str(sample)}
    return {**wire, "extra_headers": headers}


def request_timeout(max_tokens: int, explicit_s: float | None) -> float:
    """Seconds one request may take: `--promptopt-timeout` when set, else sized from max_tokens.

    A base of 60 s plus 1/16 s per token of `max_tokens`, at most 600 s: a 1024-token answer
    gets 124 s, a 2048-token judge verdict 188 s, an 8192-token generation 572 s.
    """
    if explicit_s is not None:
        return explicit_s
    return min(MAX_SIZED_TIMEOUT_S, TIMEOUT_BASE_S + max(0, max_tokens) * TIMEOUT_S_PER_TOKEN)


def cache_tokens(usage: Mapping[str, Any]) -> tuple[int, int]:
    """(cache-write, cache-read) input tokens of a response's usage."""
    return (
        int(usage.get("cache_creation_input_tokens") or 0),
        int(usage.get("cache_read_input_tokens") or 0),
    )
