"""Liveness: the run's heartbeat (renewed while it runs) and a watch on the owner process."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_promptopt.errors import PromptOptError

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database


class RunHeartbeat:
    """Renews a run's heartbeat every `interval` seconds (one UPDATE) until stopped.

    A beat that fails (the database busy or away for a moment) is skipped: the next one
    tries again, and only a run silent for several intervals is taken for abandoned.
    """

    def __init__(
        self, db: Database, run_id: int, session_uid: str, interval: float, shard: int | None = None
    ) -> None:
        """Start beating for the session `session_uid`'s run `run_id` (its shard `shard` of a
        named run: the run itself belongs to its shards)."""
        self._db, self._run_id, self._uid, self._interval = db, run_id, session_uid, interval
        self._shard = shard
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptopt-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from pytest_promptopt.storage.repositories import transaction

        while not self._stop.wait(self._interval):
            with contextlib.suppress(PromptOptError), transaction(self._db) as repos:
                if self._shard is not None:
                    renewed = repos.shards.beat(self._run_id, self._shard, self._uid)
                else:
                    renewed = repos.runs.beat(self._run_id, self._uid)
                if not renewed:
                    return  # finished, or another session resumed it: not ours to renew

    def stop(self) -> None:
        """Stop beating (waits for a beat in progress)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


class OwnerWatch:
    """Calls `on_gone` once, from a daemon thread, when the owner process has exited.

    Polls every `poll_s`: this process's parent changed (the owner was the parent and the
    system re-parented us), or no process has the owner's pid any more.
    """

    def __init__(self, pid: int, on_gone: Callable[[], None], poll_s: float = 0.5) -> None:
        """Start watching the process `pid` (this process's parent, for an xdist worker)."""
        from pytest_promptopt.storage.repositories import pid_alive

        self._pid, self._on_gone, self._poll_s = pid, on_gone, poll_s
        self._alive = pid_alive  # imported here: the thread imports nothing (nor at exit)
        self._parent = os.getppid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptopt-owner-watch", daemon=True)
        self._thread.start()

    def gone(self) -> bool:
        """True once the owner process has exited."""
        return os.getppid() != self._parent or not self._alive(self._pid)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            if self.gone():
                if not self._stop.is_set():
                    self._on_gone()
                return

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
