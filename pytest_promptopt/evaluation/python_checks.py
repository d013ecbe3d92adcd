"""`python: module:function` checks: the team's own function judges an answer.

It is called as `fn(answer, case)` or, when it takes a third parameter, `fn(answer, case,
figures)`; it returns a bool, a float 0..1 (passing at the check's `min`) or `(bool, detail)`.
A sync function runs in a thread, an async one on the loop, both within
`--promptopt-check-timeout` (`bounded.py`). An exception inside it, or running past the
timeout, is a PromptOptError: the item's ERROR, naming the function.
"""

from __future__ import annotations

import inspect
from typing import Any

from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import CodeTimeoutError, OwnCode
from pytest_promptopt.llm.service import Usage
from pytest_promptopt.suites.assertions import AssertionSpec
from pytest_promptopt.suites.callables import resolve
from pytest_promptopt.suites.spec import Case


def takes_figures(fn: Any) -> bool:
    """True when `fn` takes a third positional argument (the sample's figures)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin with no signature: give it two
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


def outcome(spec: AssertionSpec, returned: Any) -> tuple[bool, str]:
    """(passed, detail) of what a python check returned; a PromptOptError for anything else."""
    if isinstance(returned, bool):
        return returned, ""
    if (
        isinstance(returned, tuple)
        and len(returned) == 2
        and isinstance(returned[0], bool)
        and isinstance(returned[1], str)
    ):
        return returned[0], returned[1]
    if isinstance(returned, (int, float)) and 0.0 <= returned <= 1.0:
        return returned >= spec.threshold, f"score {returned:.2f}, min {spec.threshold:.2f}"
    raise PromptOptError(
        f"python check {spec.value} returned {returned!r}; return a bool, a float from 0 to 1 "
        "or (bool, detail)"
    )


async def run_python(
    spec: AssertionSpec, answer: Answer, case: Case, figures: Usage, code: OwnCode
) -> tuple[bool, str]:
    """Call the check's function on one answer, off the loop and in time; (passed, detail)."""
    fn = resolve(str(spec.value))
    args: tuple[Any, ...] = (answer, case, figures) if takes_figures(fn) else (answer, case)
    try:
        returned = await code.call(fn, *args, what=f"python check {spec.value}")
    except CodeTimeoutError:
        raise
    except Exception as exc:
        from pytest_promptopt.errors import UserCodeError
        from pytest_promptopt.evaluation.tracebacks import user_traceback

        raise UserCodeError(
            f"python check {spec.value} raised {type(exc).__name__}: {exc}",
            what=f"python check {spec.value}",
            user_traceback=user_traceback(exc),
        ) from exc
    return outcome(spec, returned)
