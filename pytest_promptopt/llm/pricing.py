"""Prices per million tokens, by exact model name, and the cost of a call as the API bills it.

Only models whose prices Anthropic publishes are listed, by their exact names; a dated
snapshot (`claude-haiku-4-5-20251001`) or `-latest` alias of a listed name has its price. Any
other model has no price: its calls cost `None` ("unknown"), never a guess, and the
`PriceTable` warns once per model. The ini key `promptopt_prices` adds or overrides entries.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CACHE_WRITE_FACTOR = 1.25
"""A 5-minute cache write costs 1.25x the base input price."""
CACHE_READ_FACTOR = 0.1
"""A cache read (hit) costs 0.1x the base input price, unless a model's entry says otherwise."""
BATCH_DISCOUNT = 0.5
"""The Message Batches API bills every token at half price."""

_SNAPSHOT = re.compile(r"^(?P<name>.+)-(?:\d{8}|latest)$")


class UnknownPriceWarning(UserWarning):
    """A model has no known price: its calls are recorded with an unknown cost."""


@dataclass(frozen=True)
class TokenUsage:
    """The tokens of one answer as the API counts them (usage.* of a Messages response)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @classmethod
    def of(cls, usage: Mapping[str, Any] | None) -> TokenUsage:
        """The usage block of a response (missing fields count as 0)."""
        usage = usage or {}
        return cls(
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(usage.get("cache_creation_input_tokens") or 0),
            int(usage.get("cache_read_input_tokens") or 0),
        )

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the request: uncached, written to and read from the cache."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens: input, output, 5-minute cache write and cache read.

    `long_prompt` is (threshold, price) for models billed at another rate when a request's
    prompt (input plus cache tokens) is longer than `threshold` tokens.
    """

    input_per_mtok: float
    output_per_mtok: float
    cache_write_per_mtok: float | None = None
    cache_read_per_mtok: float | None = None
    long_prompt: tuple[int, Price] | None = None

    @property
    def cache_write(self) -> float:
        """Dollars per million tokens written to the prompt cache (5 minutes)."""
        if self.cache_write_per_mtok is not None:
            return self.cache_write_per_mtok
        return self.input_per_mtok * CACHE_WRITE_FACTOR

    @property
    def cache_read(self) -> float:
        """Dollars per million tokens read from the prompt cache."""
        if self.cache_read_per_mtok is not None:
            return self.cache_read_per_mtok
        return self.input_per_mtok * CACHE_READ_FACTOR

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The dollar cost of a call with this many uncached input and output tokens."""
        return self.bill(TokenUsage(input_tokens, output_tokens))

    def bill(self, usage: TokenUsage, *, batch: bool = False) -> float:
        """The dollar cost of a call's usage; `batch` applies the Batches API discount."""
        if self.long_prompt is not None and usage.prompt_tokens > self.long_prompt[0]:
            return self.long_prompt[1].bill(usage, batch=batch)
        dollars = (
            usage.input_tokens * self.input_per_mtok
            + usage.output_tokens * self.output_per_mtok
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / 1e6
        return dollars * BATCH_DISCOUNT if batch else dollars


def _p(inp: float, out: float, write: float, read: float) -> Price:
    return Price(inp, out, write, read)


_OPUS_45 = _p(5.0, 25.0, 6.25, 0.50)
_OPUS_4 = _p(15.0, 75.0, 18.75, 1.50)
_SONNET_4 = _p(3.0, 15.0, 3.75, 0.30)
_FABLE_5 = _p(10.0, 50.0, 12.50, 1.00)
_FABLE_51 = _p(10.0, 50.0, 12.50, 0.25)
_FABLE_52 = _p(8.0, 40.0, 10.0, 0.20)

# Anthropic's published list prices (platform.claude.com pricing and model pages, Dec 2026).
# Not listed, so unknown: claude-mythos-preview (no published price).
PRICES: dict[str, Price] = {
    "claude-fable-5-2": _FABLE_52,
    "claude-mythos-5-2": _FABLE_52,
    "claude-fable-5-1": _FABLE_51,
    "claude-mythos-5-1": _FABLE_51,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    "claude-opus-5-5": _p(4.0, 20.0, 5.0, 0.20),
    "claude-opus-5": _OPUS_45,
    "claude-opus-4-8": _OPUS_45,
    "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4": _OPUS_4,
    "claude-sonnet-5-5": _p(2.0, 10.0, 2.50, 0.10),
    "claude-sonnet-5": _p(2.0, 10.0, 2.50, 0.20),
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-3-7-sonnet": _SONNET_4,
    # Haiku 5.5 is billed by prompt length: up to 100K tokens, and above it on every token.
    "claude-haiku-5-5": Price(
        0.10, 0.50, 0.125, 0.01, long_prompt=(100_000, _p(0.50, 2.50, 0.625, 0.05))
    ),
    "claude-haiku-4-5": _p(1.0, 5.0, 1.25, 0.10),
    "claude-3-5-haiku": _p(0.80, 4.0, 1.0, 0.08),
    "claude-3-haiku": _p(0.25, 1.25, 0.30, 0.03),
    # The offline simulator is priced like Haiku 4.5 so budgets can be exercised offline.
    "simulated": _p(1.0, 5.0, 1.25, 0.10),
}


def parse_price(values: Iterable[float]) -> Price:
    """A price from `input, output[, cache_write, cache_read]` dollars per million tokens."""
    numbers = list(values)
    inp, out = numbers[0], numbers[1]
    write = numbers[2] if len(numbers) > 2 else None
    read = numbers[3] if len(numbers) > 3 else None
    return Price(inp, out, write, read)


class PriceTable:
    """The published prices plus the user's (`promptopt_prices`); warns once per unknown model."""

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self._prices = {**PRICES, **(overrides or {})}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, entries: Iterable[tuple[str, tuple[float, ...]]]) -> PriceTable:
        """The table with the parsed `promptopt_prices` entries on top of the published ones."""
        return cls({model: parse_price(numbers) for model, numbers in entries})

    def price(self, model: str) -> Price | None:
        """The price of `model`: its exact name, or a dated snapshot of a listed name; else None."""
        if model in self._prices:
            return self._prices[model]
        snapshot = _SNAPSHOT.match(model)
        if snapshot is not None:
            return self._prices.get(snapshot["name"])
        return None

    def bill(self, model: str, usage: TokenUsage, *, batch: bool = False) -> float | None:
        """The cost of a call to `model`, or None (warning once) when its price is unknown."""
        price = self.price(model)
        if price is None:
            self.warn_unknown(model)
            return None
        return price.bill(usage, batch=batch)

    def estimate(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """A call's worst-case cost for the budget; 0 for a model without a price."""
        price = self.price(model)
        return 0.0 if price is None else price.cost(input_tokens, output_tokens)

    def warn_unknown(self, model: str) -> None:
        """Warn, once per model, that a model's calls have no cost."""
        with self._lock:
            if model in self._warned:
                return
            self._warned.add(model)
        warnings.warn(
            UnknownPriceWarning(
                f"promptopt: no published price for model {model!r}: its calls are recorded "
                "with an unknown cost and do not count toward --promptopt-budget-usd; set its "
                "price with the ini key promptopt_prices (model = input, output per MTok)"
            ),
            stacklevel=2,
        )

    @property
    def warned(self) -> frozenset[str]:
        """The models warned about so far."""
        return frozenset(self._warned)


DEFAULT_TABLE = PriceTable()


def price_for(model: str) -> Price | None:
    """The published price of a model (exact name or dated snapshot), or None."""
    return DEFAULT_TABLE.price(model)


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """The cost of a call at the published price, or None when the model has none."""
    price = price_for(model)
    return None if price is None else price.cost(input_tokens, output_tokens)


__all__ = [
    "Price",
    "PriceTable",
    "TokenUsage",
    "UnknownPriceWarning",
]
