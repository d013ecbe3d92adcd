"""pytest-promptopt: prompt suites as pytest items, judged, recorded and optimized."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Answer",
    "AssertionSpec",
    "Case",
    "CaseInput",
    "CaseResult",
    "PromptOptError",
    "Suite",
    "__version__",
    "load_suite",
]

if TYPE_CHECKING:
    from pytest_promptopt.errors import PromptOptError
    from pytest_promptopt.evaluation.answer import Answer
    from pytest_promptopt.evaluation.own_code import CaseInput
    from pytest_promptopt.evaluation.results import CaseResult
    from pytest_promptopt.suites.loader import load_suite
    from pytest_promptopt.suites.spec import AssertionSpec, Case, Suite

_LAZY = {
    "Case": "pytest_promptopt.suites.spec",
    "Suite": "pytest_promptopt.suites.spec",
    "AssertionSpec": "pytest_promptopt.suites.spec",
    "CaseResult": "pytest_promptopt.evaluation.results",
    "CaseInput": "pytest_promptopt.evaluation.own_code",
    "Answer": "pytest_promptopt.evaluation.answer",
    "PromptOptError": "pytest_promptopt.errors",
    "load_suite": "pytest_promptopt.suites.loader",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use, so loading the plugin stays cheap."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_promptopt' has no attribute {name!r}")
