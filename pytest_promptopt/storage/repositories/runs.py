"""Rows of `optimization_runs`: create, look up, finish, find the run to resume and claim it.

A run's life: `running` while its owner (the pytest process, or under xdist the controller)
lives, then `passed`, `failed` or `interrupted` (Ctrl-C). The owner's heartbeat (`heartbeat_at`,
renewed every HEARTBEAT_S) and its `host` and `pid` say whether a `running` run still runs; one
that does not (its heartbeat older than STALE_S, or its pid gone on this host) is marked
`abandoned` by the next session or CLI command. Claims of a run (a resume, marking it
abandoned) are compare-and-set on its `version`, so two processes cannot both take it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from pytest_promptopt.storage.database import insert_ignore
from pytest_promptopt.storage.models import OptimizationRun, Prompt, StageResult, TestCase, utcnow
from pytest_promptopt.storage.repositories.base import Repository

FINISHED_RUN_STATUSES: tuple[str, ...] = ("passed", "failed")
UNFINISHED_RUN_STATUSES: tuple[str, ...] = ("running", "interrupted", "abandoned")
RESUMABLE_STATUSES: tuple[str, ...] = ("running", "interrupted", "abandoned")
HEARTBEAT_S = 10.0
STALE_S = 3 * HEARTBEAT_S


def this_host() -> str:
    """The name of this machine, as runs record it."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (signal 0 probes it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Owner:
    """The process that owns a run: the one whose death abandons it."""

    host: str
    pid: int

    @classmethod
    def this_process(cls) -> Owner:
        """This process on this machine."""
        return cls(this_host(), os.getpid())


@dataclass(frozen=True)
class Holder:
    """Who holds a run that cannot be claimed: its status, host, pid and last heartbeat."""

    run_id: int
    status: str
    host: str | None
    pid: int | None
    since: datetime | None

    def describe(self) -> str:
        """`run 3 is running on host h (pid 123), last heartbeat 2026-12-07 16:00:00 UTC`."""
        where = f"host {self.host or '?'} (pid {self.pid if self.pid is not None else '?'})"
        when = self.since.strftime("%Y-%m-%d %H:%M:%S UTC") if self.since else "unknown"
        return f"run {self.run_id} is {self.status} on {where}, last heartbeat {when}"


def is_live(run: OptimizationRun, now: datetime, stale_s: float = STALE_S) -> bool:
    """True when a `running` run's owner still shows signs of life."""
    if run.status != "running":
        return False
    if run.host == this_host() and run.pid is not None and not pid_alive(run.pid):
        return False
    last = run.heartbeat_at or run.started_at
    return last is not None and now - last <= timedelta(seconds=stale_s)


RUN_USAGE: tuple[str, ...] = (
    "calls",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_calls",
)
"""The run's own usage columns, added to by `add_usage`."""


class RunRepository(Repository):
    """Rows of `optimization_runs`."""

    def create(
        self, session_uid: str, mode: str, settings: dict[str, Any], owner: Owner | None = None
    ) -> OptimizationRun:
        """Get or create the run of a pytest session (safe when xdist workers race)."""
        owner = owner or Owner.this_process()
        row = {
            "session_uid": session_uid, "mode": mode, "settings": settings,
            "host": owner.host, "pid": owner.pid, "heartbeat_at": utcnow(),
        }  # fmt: skip
        insert_ignore(self.session, OptimizationRun, [row], ["session_uid"])
        run = self.by_uid(session_uid)
        assert run is not None
        return run

    def get(self, run_id: int) -> OptimizationRun | None:
        """Return the run with this id."""
        return self.session.get(OptimizationRun, run_id)

    def by_uid(self, session_uid: str) -> OptimizationRun | None:
        """Return the run of a pytest session."""
        stmt = select(OptimizationRun).where(OptimizationRun.session_uid == session_uid)
        return self.session.scalars(stmt).one_or_none()

    def latest(
        self, mode: str | None = None, statuses: Sequence[str] | None = None
    ) -> OptimizationRun | None:
        """Return the most recently started run, optionally of one mode and some statuses."""
        stmt = select(OptimizationRun)
        if mode is not None:
            stmt = stmt.where(OptimizationRun.mode == mode)
        if statuses is not None:
            stmt = stmt.where(OptimizationRun.status.in_(list(statuses)))
        stmt = stmt.order_by(OptimizationRun.started_at.desc(), OptimizationRun.id.desc())
        return self.session.scalars(stmt.limit(1)).first()

    def latest_resumable(self, exclude_uid: str) -> int | None:
        """The newest optimize run worth resuming, other than the session `exclude_uid`'s own.

        Worth resuming: not finished (`running`, `interrupted`), or finished with a stage that
        did not complete (a cap stopped it: status `failed`).
        """
        unfinished = select(StageResult.run_id).where(StageResult.status != "completed")
        stmt = (
            select(OptimizationRun.id)
            .where(
                OptimizationRun.mode == "optimize",
                OptimizationRun.session_uid != exclude_uid,
                or_(
                    OptimizationRun.status.in_(RESUMABLE_STATUSES),
                    OptimizationRun.id.in_(unfinished),
                ),
            )
            .order_by(OptimizationRun.started_at.desc(), OptimizationRun.id.desc())
            .limit(1)
        )
        found = self.session.scalars(stmt).first()
        return None if found is None else int(found)

    def finish(
        self, run_id: int, status: str, summary: dict[str, Any] | None = None
    ) -> OptimizationRun:
        """Mark a run finished now with `status` (and `summary` when given)."""
        run = self.session.get_one(OptimizationRun, run_id)
        run.status = status
        run.finished_at = utcnow()
        if summary is not None:
            run.summary = summary
        self.session.flush()
        return run

    def add_usage(self, run_id: int, usage: dict[str, Any]) -> None:
        """Add to a run's own usage: calls, cache_hits, input_tokens, output_tokens, cost_usd
        (the priced calls' dollars) and unpriced_calls, in one UPDATE (processes add at once)."""
        columns = {name: getattr(OptimizationRun, name) for name in RUN_USAGE}
        self.session.execute(
            update(OptimizationRun)
            .where(OptimizationRun.id == run_id)
            .values({c: func.coalesce(c, 0) + usage.get(name, 0) for name, c in columns.items()})
        )

    def usage(self, run: OptimizationRun) -> dict[str, Any] | None:
        """A run's own usage (calls, cache_hits, tokens, cost_usd None when any call had no
        price), or None for a run recorded before runs kept it."""
        if run.calls is None:
            return None
        return {
            "calls": int(run.calls),
            "cache_hits": int(run.cache_hits or 0),
            "input_tokens": int(run.input_tokens or 0),
            "output_tokens": int(run.output_tokens or 0),
            "cost_usd": None if run.unpriced_calls else float(run.cost_usd or 0.0),
        }

    def reopen(self, run_id: int, session_uid: str) -> OptimizationRun:
        """Hand an earlier run to the pytest session `session_uid` (see `claim`)."""
        claimed = self.claim(run_id, session_uid, Owner.this_process())
        if isinstance(claimed, Holder):
            raise RuntimeError(claimed.describe())
        return claimed

    def claim(
        self, run_id: int, session_uid: str, owner: Owner, stale_s: float = STALE_S
    ) -> OptimizationRun | Holder:
        """Take an earlier run for the session `session_uid` (a resume): running again.

        Refused, with who holds it, while the run's owner lives. The take is a
        compare-and-set on the run's version: of two sessions claiming at once, one wins and
        the other is told who holds it.
        """
        run = self.session.get_one(OptimizationRun, run_id)
        if is_live(run, utcnow(), stale_s):
            return self._holder(run)
        taken = self.session.execute(
            update(OptimizationRun)
            .where(OptimizationRun.id == run_id, OptimizationRun.version == run.version)
            .values(
                session_uid=session_uid,
                status="running",
                finished_at=None,
                host=owner.host,
                pid=owner.pid,
                heartbeat_at=utcnow(),
                version=OptimizationRun.version + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        self.session.expire(run)
        if taken != 1:
            return self._holder(self.session.get_one(OptimizationRun, run_id))
        return self.session.get_one(OptimizationRun, run_id)

    @staticmethod
    def _holder(run: OptimizationRun) -> Holder:
        return Holder(run.id, run.status, run.host, run.pid, run.heartbeat_at or run.started_at)

    def beat(self, run_id: int, session_uid: str) -> bool:
        """Renew the heartbeat of the session's own running run; False when it is not (any more).

        A run marked abandoned by mistake (its owner was only slow) is running again.
        """
        renewed = self.session.execute(
            update(OptimizationRun)
            .where(
                OptimizationRun.id == run_id,
                OptimizationRun.session_uid == session_uid,
                OptimizationRun.status.in_(("running", "abandoned")),
            )
            .values(heartbeat_at=utcnow(), status="running")
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(renewed == 1)

    def mark_abandoned(self, stale_s: float = STALE_S) -> list[int]:
        """Mark `abandoned` every unnamed `running` run whose owner is gone; return their ids."""
        now = utcnow()
        # A named run is shared by its shards, each with its own heartbeat (`run_shards`).
        stmt = select(OptimizationRun).where(
            OptimizationRun.status == "running", OptimizationRun.name.is_(None)
        )
        marked = []
        for run in self.session.scalars(stmt):
            if is_live(run, now, stale_s):
                continue
            done = self.session.execute(
                update(OptimizationRun)
                .where(OptimizationRun.id == run.id, OptimizationRun.version == run.version)
                .values(status="abandoned", version=OptimizationRun.version + 1)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if done == 1:
                marked.append(run.id)
                self.session.expire(run)
        return marked

    def unfinished_optimize_runs(self, suite: str, after: int | None) -> list[OptimizationRun]:
        """Optimize runs of `suite` that did not finish, newer than the run `after` (or all)."""
        stmt = (
            select(OptimizationRun)
            .join(Prompt, Prompt.run_id == OptimizationRun.id)
            .where(
                Prompt.suite == suite,
                OptimizationRun.mode == "optimize",
                OptimizationRun.status.in_(UNFINISHED_RUN_STATUSES),
            )
            .distinct()
            .order_by(OptimizationRun.id.desc())
        )
        if after is not None:
            stmt = stmt.where(OptimizationRun.id > after)
        return list(self.session.scalars(stmt))

    def list_recent(self, limit: int = 20) -> list[OptimizationRun]:
        """Return the newest runs first."""
        stmt = select(OptimizationRun).order_by(
            OptimizationRun.started_at.desc(), OptimizationRun.id.desc()
        )
        return list(self.session.scalars(stmt.limit(limit)))

    def suites(self, run_id: int) -> list[str]:
        """Return the suites a run touched (prompts or test cases), sorted."""
        names = set(self.session.scalars(select(Prompt.suite).where(Prompt.run_id == run_id)))
        names |= set(self.session.scalars(select(TestCase.suite).where(TestCase.run_id == run_id)))
        return sorted(names)
