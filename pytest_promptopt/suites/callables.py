"""Functions named by an import path, `module:function`, as suites write them.

A suite's own folder is importable the way pytest's default `prepend` import mode makes a test
module's neighbours importable: the first folder up from the suite file without an
`__init__.py` goes on `sys.path` (the suite's folder itself, unless it is a package; in a
package the helper is named by its dotted path from there, `pkg.checks:fn`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_promptopt.errors import SuiteError


def import_base(suite_file: Path) -> Path:
    """The folder pytest's `prepend` mode would put on sys.path for a module at `suite_file`."""
    folder = suite_file.absolute().parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def add_suite_folder(suite_file: Path) -> Path:
    """Put the suite file's import base first on sys.path (once); returns it."""
    base = import_base(suite_file)
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    return base


def resolve(path: str, near: Path | None = None) -> Callable[..., Any]:
    """The function at `module:function`; a SuiteError saying what could not be found.

    `near` is the suite file naming it: its folder is made importable first, and a module of
    the same name already imported from another folder is an error (as pytest's "import file
    mismatch"), not a silent use of the other folder's function.
    """
    module_name, _, name = path.partition(":")
    base = add_suite_folder(near) if near is not None else None
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a missing module, or one that fails as it is imported
        raise SuiteError(
            f"cannot import {path!r}: {type(exc).__name__}: {exc} (modules are found on "
            "sys.path: the suite file's folder, the rootdir and the `pythonpath` ini option)"
        ) from None
    if base is not None:
        _check_same_file(path, module, base)
    fn = getattr(module, name, None)
    if not callable(fn):
        what = "no function" if fn is None else "a non-callable"
        raise SuiteError(f"cannot import {path!r}: module {module_name!r} has {what} {name!r}")
    return fn  # type: ignore[no-any-return]


def _check_same_file(path: str, module: Any, base: Path) -> None:
    """A SuiteError when the suite's neighbour module is shadowed by one of the same name."""
    stem = base.joinpath(*module.__name__.split("."))
    own = next((p for p in (stem.with_suffix(".py"), stem / "__init__.py") if p.is_file()), None)
    loaded = getattr(module, "__file__", None)
    if own is None or loaded is None or Path(loaded).resolve() == own.resolve():
        return
    raise SuiteError(
        f"cannot import {path!r}: module {module.__name__!r} was already imported from "
        f"{loaded}, which is not this suite's {own} (import file mismatch: give the folders "
        "an __init__.py each, so they are packages, or give the modules distinct names)"
    )
