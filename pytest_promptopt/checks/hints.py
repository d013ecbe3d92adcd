"""Near-miss hints for names a user wrote: `did you mean 'threshold'?`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed name `word` is a near miss of, if any."""
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(word: str, allowed: Iterable[str]) -> str:
    """`: did you mean 'threshold'?` for a near miss of an allowed name, else ''."""
    close = closest(word, allowed)
    return f": did you mean {close!r}?" if close else ""
