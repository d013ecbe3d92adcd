"""Heavy imports (the SDK, SQLAlchemy) that keep the cyclic collector out of the way."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume_collector = False


@contextmanager
def long_lived_imports() -> Iterator[None]:
    """Pause the cyclic collector while importing modules that live until exit, then freeze them.

    Modules, classes and functions are never garbage, yet each full collection walks all of
    them: without this, importing the SDK (some 3,300 modules) triggers several full passes, and
    interpreter exit walks them once more (together about 0.6 s; see benchmarks/README.md).
    `gc.freeze()` moves everything alive now into the permanent generation the collector skips.
    Nested and concurrent uses (the main thread opening the database while the event loop thread
    imports the SDK) re-enable the collector only when the last one ends.
    """
    global _depth, _resume_collector
    with _lock:
        if _depth == 0:
            _resume_collector = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.freeze()
                if _resume_collector:
                    gc.enable()
