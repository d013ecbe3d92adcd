"""`python: module:function`: the team's own function judges the answer.

The evaluator calls it (`evaluation/python_checks.py`: off the loop, within the check
timeout); this kind validates the import path and reads what the function returned: a bool, a
float 0..1 (passing at the check's `min`, default 0.5) or `(bool, detail)`.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_promptopt.checks.base import Answered, Checked, CheckKind, CheckRun, Nested, Outcome
from pytest_promptopt.errors import PromptOptError

IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def outcome(spec: Checked, returned: Any) -> Outcome:
    """The outcome of what a python check returned; a PromptOptError for anything else."""
    if isinstance(returned, bool):
        return Outcome(returned)
    if (
        isinstance(returned, tuple)
        and len(returned) == 2
        and isinstance(returned[0], bool)
        and isinstance(returned[1], str)
    ):
        return Outcome(returned[0], returned[1])
    if isinstance(returned, (int, float)) and 0.0 <= returned <= 1.0:
        detail = f"score {returned:.2f}, min {spec.threshold:.2f}"
        return Outcome(returned >= spec.threshold, detail)
    raise PromptOptError(
        f"python check {spec.value} returned {returned!r}; return a bool, a float from 0 to 1 "
        "or (bool, detail)"
    )


class Python(CheckKind):
    """The team's function, named by import path, passes the answer."""

    name = "python"
    order = 120
    options = frozenset({"min"})

    def parse(self, value: Any, nested: Nested) -> str:
        """An import path `module:function` (resolved when the suite loads)."""
        if not isinstance(value, str) or not IMPORT_PATH.fullmatch(value):
            raise ValueError(f"python takes an import path `module:function`, got {value!r}")
        return value

    async def run(self, spec: Checked, answer: Answered, context: CheckRun) -> Outcome:
        """Call the function through the evaluator, then read what it returned."""
        return outcome(spec, await context.call_python(str(spec.value), answer))

    def python_checks(self, value: str) -> list[str]:
        """Its own import path."""
        return [value]
