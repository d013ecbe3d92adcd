"""Tests of the offline simulator against the v2 requests (conversations, blocks, tools, params)."""
