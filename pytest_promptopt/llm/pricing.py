"""Prices per million tokens, by model, and the cost of a call from its real token usage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The dollar cost of a call with this usage."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


# Public list prices; a model not listed is priced by its family name, else as Sonnet.
PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
    # The offline simulator is priced like Haiku so budgets can be exercised offline.
    "simulated": Price(1.0, 5.0),
}
_FAMILIES = (("opus", PRICES["claude-opus-4-5"]), ("haiku", PRICES["claude-haiku-4-5"]))


def price_for(model: str) -> Price:
    """The price of a model: exact or prefix match, else by family, else Sonnet's."""
    if model in PRICES:
        return PRICES[model]
    for name in sorted(PRICES, key=len, reverse=True):
        if model.startswith(name):
            return PRICES[name]
    for family, price in _FAMILIES:
        if family in model:
            return price
    return PRICES["claude-sonnet-4-5"]


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """The dollar cost of a call to `model` with this usage."""
    return price_for(model).cost(input_tokens, output_tokens)


BATCH_DISCOUNT = 0.5  # the Message Batches API bills half the list price


def batch(cost: float) -> float:
    """The cost of a call made through the Message Batches API, given its list-price cost."""
    return cost * BATCH_DISCOUNT
