"""This session's `optimization_runs` row: created or adopted on first use, kept alive, finished."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

from pytest_promptopt.errors import PromptOptError, RunBusyError

if TYPE_CHECKING:
    from pytest_promptopt.engine.heartbeat import RunHeartbeat
    from pytest_promptopt.engine.session_db import SessionDatabase
    from pytest_promptopt.settings import Settings
    from pytest_promptopt.storage.database import Database
    from pytest_promptopt.storage.repositories import Owner


def sweep_abandoned_runs(db: Database) -> None:
    """Mark `abandoned` the runs whose owner is gone (a courtesy: failures are ignored)."""
    from pytest_promptopt.storage.repositories import transaction

    with contextlib.suppress(PromptOptError), transaction(db) as repos:
        repos.runs.mark_abandoned()


class RunRow:
    """The run this process writes to: its row is created (or claimed) on first use, and its
    heartbeat renewed while this process holds it; the status is set only when told (`finish`).
    """

    def __init__(
        self,
        database: SessionDatabase,
        settings: Settings,
        session_uid: str,
        owner: tuple[str, int] | None = None,
    ) -> None:
        """`owner`: the (host, pid) of the process whose death abandons the run (default this
        one; an xdist worker names its controller)."""
        self._database = database
        self._settings = settings
        self._uid = session_uid
        self._owner = owner
        self.mode = "optimize" if settings.optimize else "test"
        self._lock = threading.RLock()
        self._id: int | None = None
        self._heartbeat: RunHeartbeat | None = None

    @property
    def id(self) -> int:
        """The row's id (shared by xdist workers), creating the row on first use."""
        with self._lock:
            if self._id is None:
                if self._settings.run_name is not None:
                    self._id = self._join_named(self._settings.run_name)
                    return self._id
                from pytest_promptopt.storage.repositories import RunRepository

                with self._database.get().session_scope() as session:
                    run = RunRepository(session).create(
                        self._uid, self.mode, self._row_settings(), self._holder()
                    )
                    self._id = int(run.id)
                self._start_heartbeat(self._id)
            return self._id

    def _row_settings(self) -> dict[str, object]:
        """The settings the run row keeps, with the commit and branch the run was made from
        (for `promptopt view`)."""
        from pytest_promptopt.engine.git import git_info

        return {**self._settings.public_dict(), "git": git_info(self._settings.rootdir)}

    @property
    def shard(self) -> tuple[int, int]:
        """This session's shard (I, N) of its named run; 1/1 when it is not sharded."""
        return self._settings.shard or (1, 1)

    def _join_named(self, name: str) -> int:
        """Join (or create) the run named `name` and take this session's shard of it."""
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._database.get()) as repos:
            run_id = repos.shards.join_run(name, self.mode, self._row_settings())
        with transaction(self._database.get()) as repos:
            repos.shards.start(run_id, *self.shard, self._uid, self._holder())
        if self._heartbeat is None:
            from pytest_promptopt.engine.heartbeat import RunHeartbeat
            from pytest_promptopt.storage.repositories import HEARTBEAT_S

            self._heartbeat = RunHeartbeat(
                self._database.get(), run_id, self._uid, HEARTBEAT_S, shard=self.shard[0]
            )
        return run_id

    def finish_shard(self, status: str, records: list[dict[str, object]]) -> bool:
        """End this session's shard of its named run with `status` and its case records; the
        run itself finishes with the last shard (failed when any shard failed). True then."""
        from pytest_promptopt.storage.repositories import missing_shards, transaction

        run_id = self.id
        self.stop_heartbeat()
        with transaction(self._database.get()) as repos:
            repos.shards.finish(run_id, self.shard[0], self._uid, status, records)
        # A new transaction: of shards finishing at once, the last to commit sees them all.
        with transaction(self._database.get()) as repos:
            states = repos.shards.for_run(run_id)
            if missing_shards(states, self.shard[1]):
                return False
            failed = any(s.status == "failed" for s in states)
            repos.runs.finish(run_id, "failed" if failed else "passed")
        return True

    def _holder(self) -> Owner:
        """The process whose death abandons the run."""
        from pytest_promptopt.storage.repositories import Owner

        return Owner(*self._owner) if self._owner is not None else Owner.this_process()

    def _start_heartbeat(self, run_id: int) -> None:
        """Renew the run's heartbeat while this process runs it (see `RunRepository`)."""
        from pytest_promptopt.engine.heartbeat import RunHeartbeat
        from pytest_promptopt.storage.repositories import HEARTBEAT_S

        if self._heartbeat is None:
            self._heartbeat = RunHeartbeat(self._database.get(), run_id, self._uid, HEARTBEAT_S)

    def adopt(self, run_id: int) -> None:
        """Continue an earlier run as this session's run (--promptopt-resume).

        Claims the run (compare-and-set on its version): a `RunBusyError` naming the host,
        pid and last heartbeat of the process that holds it when another session runs it.
        """
        with self._lock:
            if self._id is not None and self._id != run_id:
                raise RuntimeError("adopt must come before this session's run row is created")
            from pytest_promptopt.storage.repositories import Holder, RunRepository

            with self._database.get().session_scope() as session:
                claimed = RunRepository(session).claim(run_id, self._uid, self._holder())
            if isinstance(claimed, Holder):
                raise RunBusyError(claimed.describe())
            self._id = run_id
            self._start_heartbeat(run_id)

    def exists(self) -> bool:
        """True once this process created or adopted its run row."""
        return self._id is not None

    def id_if_created(self) -> int | None:
        """This session's run id if some process (an xdist worker) created the row, else None."""
        if self._id is not None:
            return self._id
        from pytest_promptopt.storage.repositories import RunRepository, transaction

        if self._settings.run_name is not None:
            with transaction(self._database.get()) as repos:
                return repos.shards.joined(self._settings.run_name, self.shard[0], self._uid)
        with self._database.get().session_scope() as session:
            run = RunRepository(session).by_uid(self._uid)
            return None if run is None else int(run.id)

    def stop_heartbeat(self) -> None:
        """Stop renewing the heartbeat (the run stays as it is)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()

    def finish(self, run_id: int, status: str) -> None:
        """Set the final status and end time of `run_id` (this row, or the one the workers made)."""
        from pytest_promptopt.storage.repositories import RunRepository

        with self._database.get().session_scope() as session:
            RunRepository(session).finish(run_id, status)
