"""Functions named by an import path, `module:function`, as suites write them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pytest_promptopt.errors import SuiteError


def resolve(path: str) -> Callable[..., Any]:
    """The function at `module:function`; a SuiteError saying what could not be found."""
    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a missing module, or one that fails as it is imported
        raise SuiteError(
            f"cannot import {path!r}: {type(exc).__name__}: {exc} (modules are found on "
            "sys.path: the rootdir and the `pythonpath` ini option)"
        ) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        what = "no function" if fn is None else "a non-callable"
        raise SuiteError(f"cannot import {path!r}: module {module_name!r} has {what} {name!r}")
    return fn  # type: ignore[no-any-return]
