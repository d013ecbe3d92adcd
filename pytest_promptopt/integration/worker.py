"""The role of an xdist worker: judges the cases xdist hands it; the controller finishes the run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.integration import internals
from pytest_promptopt.integration.case_runner import CaseRunnerRole
from pytest_promptopt.integration.collect import CaseItem
from pytest_promptopt.integration.handoff import OPTIMIZED_KEY, OWNER_KEY, RUN_ID_KEY

if TYPE_CHECKING:
    from pytest_promptopt.engine.heartbeat import OwnerWatch
    from pytest_promptopt.settings import Settings

# A worker whose controller died stops within about this long (SIGINT, then a hard exit).
ORPHAN_GRACE_S = 10.0


class Worker(CaseRunnerRole):
    """An xdist worker: judges its cases and sends its run id home in `workeroutput`."""

    name = "worker"
    shares_limit = True

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        super().__init__(config, settings, session_uid)
        self._watch: OwnerWatch | None = None

    def owner(self) -> tuple[str, int] | None:
        """The controller (host, pid): its death abandons the run."""
        data = (internals.worker_input(self.config) or {}).get(OWNER_KEY)
        return None if not data else (str(data[0]), int(data[1]))

    def cases_start(self) -> None:
        """Watch the controller: a worker whose controller died stops (finding it orphaned)."""
        owner = self.owner()
        if owner is None or owner[0] != socket.gethostname():
            return  # a remote controller: its channel closing stops this worker
        from pytest_promptopt.engine.heartbeat import OwnerWatch

        self._watch = OwnerWatch(owner[1], self._orphaned)

    def _orphaned(self) -> None:
        """The controller is gone: interrupt this worker, and end it if that does not."""
        owner = self.owner()
        with contextlib.suppress(OSError, AttributeError):
            sys.__stderr__.write(  # type: ignore[union-attr]
                f"promptopt: the xdist controller (pid {owner and owner[1]}) is gone; "
                "stopping this worker (what it recorded is kept; the run can be resumed)\n"
            )
        os.kill(os.getpid(), signal.SIGINT)
        timer = threading.Timer(ORPHAN_GRACE_S, os._exit, args=(int(pytest.ExitCode.INTERRUPTED),))
        timer.daemon = True
        timer.start()

    def _next_items(self, nodeid: str, window: int) -> tuple[list[CaseItem], int | None]:
        """The case items xdist has queued on this worker (a moving queue: topped up each item)."""
        if internals.dist_mode(self.config) == "worksteal":
            # Stealing takes from the back of a queue: start only the front of it.
            window = self.settings.concurrency
        queued = internals.pending_items(self.config)
        return [i for i in queued if isinstance(i, CaseItem)][:window], None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Flush and close; tell the controller which run this worker wrote to."""
        if self._watch is not None:
            self._watch.stop()
        runtime = self.runtime_if_built()
        if runtime is None:
            return
        try:
            runtime.close(None)
            if runtime.run.exists():
                internals.set_worker_output(self.config, RUN_ID_KEY, runtime.run_id)
            notes = [n.model_dump(mode="json") for n in self.optimize_notes(runtime)]
            if notes:
                internals.set_worker_output(self.config, OPTIMIZED_KEY, notes)
        except DatabaseError:
            pass  # the items that met it said so; the controller reports its own
        finally:
            runtime.dispose()
