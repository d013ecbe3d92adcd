"""Rows of `run_shards`: the shards of a named run join it, beat, finish and hand in records.

A named run (`--promptopt-run-name`) is one `optimization_runs` row that several sessions
share; each session is one shard `I/N` of it (an unsharded one is 1/1). A shard's row says who
runs it (`session_uid`, host, pid), its last heartbeat and its status: `running`, then `passed`,
`failed` or `interrupted`. A shard whose row is `running` with a stale heartbeat (or a dead pid
on this host) was killed: `promptopt gate` reports it missing, and running it again takes the
row over (its records are replaced, so each case is recorded once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import OptimizationRun, RunShard, utcnow
from pytest_promptopt.storage.repositories.base import Repository
from pytest_promptopt.storage.repositories.runs import STALE_S, Owner, pid_alive, this_host

FINISHED_SHARD_STATUSES: tuple[str, ...] = ("passed", "failed")


@dataclass(frozen=True)
class ShardState:
    """One shard of a named run as read: where it stands and, once finished, its records."""

    shard: int
    total: int
    status: str
    host: str | None
    pid: int | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    records: list[Any]

    @property
    def finished(self) -> bool:
        """True once the shard's session ended with its cases judged."""
        return self.status in FINISHED_SHARD_STATUSES

    def alive(self, now: datetime, stale_s: float = STALE_S) -> bool:
        """True while a running shard shows signs of life."""
        if self.status != "running":
            return False
        if self.host == this_host() and self.pid is not None and not pid_alive(self.pid):
            return False
        return self.heartbeat_at is not None and now - self.heartbeat_at <= timedelta(
            seconds=stale_s
        )


class RunShardRepository(Repository):
    """Rows of `run_shards`, and the named run they share."""

    def join_run(self, name: str, mode: str, settings: dict[str, Any]) -> int:
        """The id of the run named `name`, created by the first session to ask (race-free: the
        insert is skipped when the name is taken, then the row is selected).

        The row's own `session_uid` is a fresh one: no session owns a named run, its shards do.
        """
        owner = Owner.this_process()
        row = {
            "name": name, "session_uid": uuid.uuid4().hex, "mode": mode, "settings": settings,
            "host": owner.host, "pid": owner.pid, "heartbeat_at": utcnow(),
        }  # fmt: skip
        insert_ignore(self.session, OptimizationRun, [row], ["name"])
        found = self.run_id(name)
        assert found is not None
        return found

    def run_id(self, name: str) -> int | None:
        """The id of the run named `name`, or None."""
        stmt = select(OptimizationRun.id).where(OptimizationRun.name == name)
        found = self.session.scalars(stmt).first()
        return None if found is None else int(found)

    def joined(self, name: str, shard: int, session_uid: str) -> int | None:
        """The id of the run named `name` when the session `session_uid` took its shard."""
        stmt = (
            select(OptimizationRun.id)
            .join(RunShard, RunShard.run_id == OptimizationRun.id)
            .where(
                OptimizationRun.name == name,
                RunShard.shard == shard,
                RunShard.session_uid == session_uid,
            )
        )
        found = self.session.scalars(stmt).first()
        return None if found is None else int(found)

    def start(self, run_id: int, shard: int, total: int, session_uid: str, owner: Owner) -> None:
        """Take shard `shard` of `total` for the session `session_uid`: running, beating now.

        A shard run again (after it was killed, say) is taken over: its records are dropped.
        The session's xdist workers share its uid, so their starts agree.
        """
        values = {
            "status": "running", "session_uid": session_uid, "host": owner.host,
            "pid": owner.pid, "heartbeat_at": utcnow(), "total": total,
        }  # fmt: skip
        row = {"run_id": run_id, "shard": shard, **values}
        insert_ignore(self.session, RunShard, [row], ["run_id", "shard"])
        self.session.execute(
            update(RunShard)
            .where(
                RunShard.run_id == run_id,
                RunShard.shard == shard,
                RunShard.session_uid != session_uid,
            )
            .values(finished_at=None, records=None, **values)
            .execution_options(synchronize_session=False)
        )

    def beat(self, run_id: int, shard: int, session_uid: str) -> bool:
        """Renew the session's running shard; False when it is not the session's (any more)."""
        renewed = self.session.execute(
            update(RunShard)
            .where(
                RunShard.run_id == run_id,
                RunShard.shard == shard,
                RunShard.session_uid == session_uid,
                RunShard.status == "running",
            )
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(renewed == 1)

    def finish(
        self, run_id: int, shard: int, session_uid: str, status: str, records: list[Any]
    ) -> None:
        """End the session's shard with `status` and its case records (as JSON)."""
        self.session.execute(
            update(RunShard)
            .where(
                RunShard.run_id == run_id,
                RunShard.shard == shard,
                RunShard.session_uid == session_uid,
            )
            .values(status=status, finished_at=utcnow(), heartbeat_at=utcnow(), records=records)
            .execution_options(synchronize_session=False)
        )

    def for_run(self, run_id: int) -> list[ShardState]:
        """Every shard row of a run, in shard order."""
        stmt = select(RunShard).where(RunShard.run_id == run_id).order_by(RunShard.shard)
        return [
            ShardState(
                r.shard, r.total, r.status, r.host, r.pid, r.heartbeat_at, r.finished_at,
                list(r.records or []),
            )
            for r in self.session.scalars(stmt)
        ]  # fmt: skip


def missing_shards(states: list[ShardState], total: int | None = None) -> list[int]:
    """The shards 1..N not finished (N: `total`, else the shards' own), in order."""
    n = total or max((s.total for s in states), default=0)
    done = {s.shard for s in states if s.finished}
    return [i for i in range(1, n + 1) if i not in done]
