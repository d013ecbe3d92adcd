"""`regex: PATTERN` on RE2, a linear-time engine: no pattern can stall a run on any answer.

Python's `re` backtracks: `(a+)+b` against 29 `a`s takes about 50 s. RE2 matches in time
linear in the answer, whatever the pattern, at the price of the few features that need
backtracking (backreferences such as `\\1`, lookahead and lookbehind); a pattern using them is
a collection error that says how to write the check instead.
"""

from __future__ import annotations

import functools
from typing import Any

from pytest_promptopt.checks.base import (
    Answered,
    CheckKind,
    Figures,
    Nested,
    Outcome,
    non_empty_string,
)

UNSUPPORTED_HINT = (
    "regex checks run on RE2, a linear-time engine, which has no backreferences (\\1) or "
    "lookaround ((?=...), (?!...), (?<=...), (?<!...)); split the check (`not: {regex: ...}` for "
    "a negative lookahead, two `regex` checks for two conditions) or use a `python` check"
)


class PatternError(ValueError):
    """A `regex` check's pattern that RE2 cannot compile; the message says how to fix it."""


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern (cached); PatternError naming the problem and the fix."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is ours to report, not absl's on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        problem = exc.args[0] if exc.args else exc
        if isinstance(problem, bytes):
            problem = problem.decode("utf-8", "replace")
        raise PatternError(
            f"regex {pattern!r} does not compile: {problem}; {UNSUPPORTED_HINT}"
        ) from None


def search(pattern: str, text: str) -> str | None:
    """The first text `pattern` matches in `text`, or None."""
    found = compile_pattern(pattern).search(text)
    return None if found is None else str(found.group(0))


class Regex(CheckKind):
    """The pattern matches somewhere in the answer's text."""

    name = "regex"
    order = 40

    def parse(self, value: Any, nested: Nested) -> str:
        """A non-empty pattern RE2 compiles (a PatternError says what to write instead)."""
        compile_pattern(non_empty_string(self.name, value))
        return str(value)

    def check(self, value: str, answer: Answered, figures: Figures) -> Outcome:
        """Passes when the pattern matches."""
        return Outcome(search(value, answer.text) is not None)

    def found(self, value: str, outcome: Outcome, answer: Answered) -> str:
        """The text the pattern matched."""
        match = search(value, answer.text)
        return f"matched {match!r}" if match is not None else super().found(value, outcome, answer)
