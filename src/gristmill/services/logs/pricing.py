"""What a model call cost: a price table in USD per million tokens, input and output.

The built-in table holds list prices of common OpenAI models; `Settings.model_prices`
(GRISTMILL_MODEL_PRICES) adds models or overrides these. A dated snapshot such as
`gpt-4o-mini-2024-07-18` is priced as its longest listed prefix (`gpt-4o-mini`); a model that
matches nothing has no cost (None), rather than a guessed one.
"""

from __future__ import annotations

from collections.abc import Mapping

PER_TOKENS = 1_000_000

# (input, output) USD per 1M tokens.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}


def price_of(
    model: str | None, overrides: Mapping[str, tuple[float, float]] | None = None
) -> tuple[float, float] | None:
    if not model:
        return None
    table = {**PRICES, **(overrides or {})}
    if model in table:
        return table[model]
    # Longest prefix first, so `gpt-4o-mini-…` is not priced as `gpt-4o`.
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name + "-"):
            return table[name]
    return None


def cost_of(
    model: str | None,
    tokens_in: int | None,
    tokens_out: int | None,
    overrides: Mapping[str, tuple[float, float]] | None = None,
) -> float | None:
    """USD for one call, or None when the model is unpriced or no token count is known."""
    price = price_of(model, overrides)
    if price is None or (tokens_in is None and tokens_out is None):
        return None
    total = (tokens_in or 0) * price[0] + (tokens_out or 0) * price[1]
    return round(total / PER_TOKENS, 10)
