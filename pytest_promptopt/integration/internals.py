"""Every use of pytest-xdist's and pytest's internals, in one place.

Checked against pytest 8.0-9.2 and pytest-xdist 3.5-3.8 (the package pins `pytest-xdist<4`).
What is private here: xdist's `WorkerInteractor` (found by class name), its queue `torun._items`
and `LoadScheduling._send_tests`. The public xdist surface used elsewhere (`workerinput`,
`workeroutput`, the `-n`/`--dist` options) also goes through the functions below, so a change
in xdist is fixed here alone.
"""

from __future__ import annotations

from typing import Any

import pytest


def worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """xdist's `workerinput` on a worker process, None elsewhere."""
    value: dict[str, Any] | None = getattr(config, "workerinput", None)
    return value


def worker_id(config: pytest.Config) -> str | None:
    """`gw0`, `gw1`, ... on an xdist worker, None elsewhere."""
    data = worker_input(config)
    return None if data is None else str(data["workerid"])


def is_controller(config: pytest.Config) -> bool:
    """True on the process that hands items to xdist workers and runs none itself."""
    if worker_input(config) is not None or config.option.collectonly:
        return False
    numprocesses = getattr(config.option, "numprocesses", None)
    return bool(numprocesses) or dist_mode(config) != "no"


def xdist_stop_reason(config: pytest.Config) -> str:
    """Why xdist's controller stopped the session early (a worker's shouldfail), or ''."""
    dsession = config.pluginmanager.get_plugin("dsession")
    return str(getattr(dsession, "shouldstop", "") or "")


def dist_mode(config: pytest.Config) -> str:
    """xdist's `--dist` mode (`no` without xdist)."""
    return str(getattr(config.option, "dist", "no") or "no")


def set_worker_output(config: pytest.Config, key: str, value: object) -> None:
    """Send a value to the controller with this worker's `workeroutput`."""
    output: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if output is not None:
        output[key] = value


def node_worker_output(node: Any) -> dict[str, Any]:
    """The `workeroutput` a finished worker node sent (empty when it died first)."""
    return dict(getattr(node, "workeroutput", None) or {})


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
