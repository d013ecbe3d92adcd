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


def make_scheduler(config: pytest.Config, log: Any, floor: int) -> Any:
    """`--dist load` that keeps feeding workers whose items wait on the network.

    xdist's load scheduler stops topping up a worker whose last test took over 0.1 s while it
    still has two queued, and its top-ups shrink as the run ends; a case item waits on model
    calls, and a worker can only start early what is in its queue. So the duration is ignored
    and every worker keeps at least `floor` items queued while any are left.
    """
    from xdist.scheduler import LoadScheduling

    class LookaheadLoadScheduling(LoadScheduling):  # type: ignore[misc]
        """LoadScheduling without the long-running-test pause, with a minimum queue."""

        def check_schedule(self, node: Any, duration: float = 0) -> None:
            super().check_schedule(node, 0.0)
            queued = len(self.node2pending.get(node, ()))
            if self.pending and not node.shutting_down and queued < floor:
                self._send_tests(node, min(floor - queued, len(self.pending)))

    return LookaheadLoadScheduling(config, log)
