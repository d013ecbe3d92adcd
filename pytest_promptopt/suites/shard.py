"""The shard of a case (`--promptopt-shard I/N`): a hash of its suite and case key.

sha256, never Python's `hash` (salted per process): every machine of a CI matrix splits the
cases the same way. The variants of a case share its key, so they land in one shard together.
"""

from __future__ import annotations

import hashlib


def shard_of(suite: str, case_key: str, total: int) -> int:
    """The shard, 1 to `total`, that the case `case_key` of suite `suite` belongs to."""
    digest = hashlib.sha256(f"{suite}\0{case_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total + 1
