"""`python: module:function` checks: calling the team's own function on an answer.

It is called as `fn(answer, case)` or, when it takes a third parameter, `fn(answer, case,
figures)`; what it returns is read by the `python` kind (`checks/kinds/python.py`). A sync
function runs in a thread, an async one on the loop, both within `--promptopt-check-timeout`
(`bounded.py`). An exception inside it, or running past the timeout, is a PromptOptError: the
item's ERROR, naming the function.
"""

from __future__ import annotations

import inspect
from typing import Any

from pytest_promptopt.checks.base import Answered
from pytest_promptopt.evaluation.bounded import CodeTimeoutError, OwnCode
from pytest_promptopt.records.totals import Usage
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


async def call_python(
    import_path: str, answer: Answered, case: Case, figures: Usage, code: OwnCode
) -> Any:
    """What the check's function returned for one answer, called off the loop and in time."""
    fn = resolve(import_path)
    args: tuple[Any, ...] = (answer, case, figures) if takes_figures(fn) else (answer, case)
    try:
        return await code.call(fn, *args, what=f"python check {import_path}")
    except CodeTimeoutError:
        raise
    except Exception as exc:
        from pytest_promptopt.errors import UserCodeError
        from pytest_promptopt.evaluation.tracebacks import user_traceback

        raise UserCodeError(
            f"python check {import_path} raised {type(exc).__name__}: {exc}",
            what=f"python check {import_path}",
            user_traceback=user_traceback(exc),
        ) from exc
