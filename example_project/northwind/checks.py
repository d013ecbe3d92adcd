"""The team's own checks, named by `python:` in the suites."""

from __future__ import annotations

import re
from typing import Any


def no_internal_codes(answer: Any, case: Any) -> tuple[bool, str]:
    """Fails when the answer leaks an internal warehouse code (WH-1234)."""
    leaked = re.findall(r"\bWH-\d+\b", answer.text)
    return not leaked, f"leaked {', '.join(leaked)}" if leaked else "no internal code"
