"""Model access: the SDK client factory, prices, the budget and the caching call service."""
