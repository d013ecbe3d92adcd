"""What an xdist worker will run next, read from its queue, so its cases can start early."""

from __future__ import annotations

from typing import Any

import pytest


def pending_items(config: pytest.Config) -> list[pytest.Item]:
    """Items queued on this worker after the current one; empty when xdist's queue is unreadable.

    Under `--dist load` the controller never takes queued items back, so starting them early
    cannot evaluate a case on two workers. Under `worksteal` a stolen item may be evaluated
    here and there; the cache and the evaluations' unique key keep that to one row.
    """
    interactor: Any = next(
        (p for p in config.pluginmanager.get_plugins() if type(p).__name__ == "WorkerInteractor"),
        None,
    )
    queue = getattr(getattr(interactor, "torun", None), "_items", None)
    session_items = getattr(getattr(interactor, "session", None), "items", None)
    if queue is None or session_items is None:
        return []
    try:
        indices = [i for i in list(queue) if isinstance(i, int)]
        return [session_items[i] for i in indices]
    except (IndexError, RuntimeError):
        return []


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist load` that keeps feeding workers whose items wait on the network.

    xdist's load scheduler stops topping up a worker whose last test took over 0.1 s while it
    still has two queued; a case item waits on model calls, so that starves the worker's queue,
    which is what it starts early. Ignoring the duration keeps each queue at xdist's own
    target size; nothing else about the scheduling changes.
    """
    from xdist.scheduler import LoadScheduling

    class LookaheadLoadScheduling(LoadScheduling):  # type: ignore[misc]
        """LoadScheduling without the long-running-test pause."""

        def check_schedule(self, node: Any, duration: float = 0) -> None:
            super().check_schedule(node, 0.0)

    return LookaheadLoadScheduling(config, log)
