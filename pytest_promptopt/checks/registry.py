"""Every check kind, found in `checks/kinds/`: adding a kind is adding a module there."""

from __future__ import annotations

import importlib
import pkgutil

from pytest_promptopt.checks import kinds
from pytest_promptopt.checks.base import CheckKind


def _found() -> dict[str, CheckKind]:
    """One instance per kind class of the `kinds` modules, by name, in their `order`."""
    found: list[CheckKind] = []
    for module_info in pkgutil.iter_modules(kinds.__path__):
        module = importlib.import_module(f"{kinds.__name__}.{module_info.name}")
        found += [
            obj()
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, CheckKind)
            and obj.__module__ == module.__name__
            and "name" in vars(obj)
        ]
    by_name: dict[str, CheckKind] = {}
    for kind in sorted(found, key=lambda k: (k.order, k.name)):
        if kind.name in by_name:
            raise RuntimeError(f"two check kinds are called {kind.name!r}")
        by_name[kind.name] = kind
    return by_name


KINDS: dict[str, CheckKind] = _found()
"""Every check kind by its suite key, in the order the allowed kinds are listed."""
CHECK_KINDS: tuple[str, ...] = tuple(KINDS)
"""The check keys a suite may write."""
