"""Heavy imports (the SDK, SQLAlchemy) that keep the cyclic collector out of the way."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume_collector = False
_modules_before = 0


@contextmanager
def long_lived_imports() -> Iterator[None]:
    """Pause the cyclic collector while importing modules that live until exit, then freeze.

    Modules, classes and functions are never garbage, yet each full collection walks them all:
    importing the SDK (some 3,300 modules) with the collector on triggers several full passes
    (about 0.2 s), and interpreter exit walks them once more (about 0.45 s). When the block
    imported anything, `gc.freeze()` then moves what is alive into the permanent generation
    the collector skips. Only pausing would be worse: everything allocated meanwhile would sit
    in the youngest generation and the next collection would walk it all.

    The side effect: cyclic garbage that exists at that moment (the process's, a test's) is
    not collected afterwards. It happens once per module set (an import that finds its
    modules loaded freezes nothing), so repeated in-process sessions do not accumulate.
    Nested and concurrent uses (the main thread opening the database while the event-loop
    thread imports the SDK) resume the collector and freeze only when the last one ends.
    """
    global _depth, _resume_collector, _modules_before
    with _lock:
        if _depth == 0:
            _resume_collector = gc.isenabled()
            _modules_before = len(sys.modules)
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if len(sys.modules) > _modules_before:
                    gc.freeze()
                if _resume_collector:
                    gc.enable()
