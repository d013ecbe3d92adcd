"""`promptopt gate`'s wait: poll a named run until every shard 1..N has finished, or time out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.storage import Database
    from pytest_promptopt.storage.repositories import ShardState


@dataclass
class Joined:
    """A named run as the last poll saw it: its id (None: no shard began), its shards and the
    ones 1..N not finished."""

    name: str
    run_id: int | None = None
    shards: list[ShardState] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    totals: set[int] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        """True when a run exists, its shards agree on N, and every one has finished."""
        return self.run_id is not None and len(self.totals) == 1 and not self.missing

    def why_missing(self, shard: int) -> str:
        """`shard 2/3: never started` / `... stopped (no heartbeat since ...)` / `... running`."""
        from pytest_promptopt.storage.models import utcnow

        total = max(self.totals, default=0)
        found = next((s for s in self.shards if s.shard == shard), None)
        head = f"shard {shard}/{total}"
        if found is None:
            return f"{head}: never started"
        where = f"host {found.host or '?'} (pid {found.pid if found.pid is not None else '?'})"
        when = found.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC") if found.heartbeat_at else "?"
        if found.alive(utcnow()):
            return f"{head}: still running on {where}, last heartbeat {when}"
        if found.status == "running":
            return (
                f"{head}: stopped without finishing on {where}, last heartbeat {when} "
                "(killed?): run that shard again"
            )
        return f"{head}: {found.status} on {where}: run that shard again"

    def problems(self) -> list[str]:
        """Why the run is not complete, one line each."""
        if self.run_id is None:
            return [f"no shard of run {self.name!r} has started (no run of that name)"]
        if len(self.totals) > 1:
            shown = ", ".join(str(t) for t in sorted(self.totals))
            return [f"the shards of run {self.name!r} disagree on N (I/N): {shown}"]
        return [self.why_missing(i) for i in self.missing]


def poll(db: Database, name: str) -> Joined:
    """The named run's shards now."""
    from pytest_promptopt.storage import transaction
    from pytest_promptopt.storage.repositories import missing_shards

    joined = Joined(name)
    with transaction(db) as repos:
        joined.run_id = repos.shards.run_id(name)
        if joined.run_id is not None:
            joined.shards = repos.shards.for_run(joined.run_id)
    joined.totals = {s.total for s in joined.shards}
    joined.missing = missing_shards(joined.shards)
    if joined.run_id is not None and not joined.shards:
        joined.missing = [1]
        joined.totals = {1}
    return joined


def wait_for_shards(db: Database, name: str, timeout_s: float, poll_s: float) -> Joined:
    """Poll until every shard of the run has finished or `timeout_s` passed; the last view."""
    deadline = time.monotonic() + timeout_s
    while True:
        joined = poll(db, name)
        if joined.complete or time.monotonic() >= deadline:
            return joined
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
