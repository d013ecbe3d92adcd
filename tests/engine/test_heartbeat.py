"""The run's heartbeat thread and the watch on the owner process."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_promptopt.engine.heartbeat import OwnerWatch, RunHeartbeat
from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories.runs import RunRepository


def _heartbeat(db: Database, run_id: int) -> object:
    with transaction(db) as repos:
        run = repos.runs.get(run_id)
        assert run is not None
        return run.heartbeat_at


def test_the_heartbeat_renews_a_running_run_until_it_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewals: list[bool] = []  # what each beat's UPDATE said, in order
    renewed = threading.Event()
    real_beat = RunRepository.beat

    def recorded(self: RunRepository, run_id: int, session_uid: str) -> bool:
        done = real_beat(self, run_id, session_uid)
        renewals.append(done)
        if done:
            renewed.set()
        return done

    monkeypatch.setattr(RunRepository, "beat", recorded)
    db = Database(f"sqlite:///{tmp_path / 'beat.db'}")
    db.ensure_schema()
    with transaction(db) as repos:
        run_id = int(repos.runs.create("uid", "test", {}).id)
    first = _heartbeat(db, run_id)
    beat = RunHeartbeat(db, run_id, "uid", interval=0.02)
    try:
        assert renewed.wait(timeout=30), "the heartbeat never beat"
    finally:
        beat.stop()
    assert _heartbeat(db, run_id) != first, "a beat that did not move the heartbeat"
    assert renewals and all(renewals)
    with transaction(db) as repos:
        repos.runs.finish(run_id, "passed")
    after = RunHeartbeat(db, run_id, "uid", interval=0.01)  # a finished run is not renewed
    after._thread.join(timeout=10)
    assert not after._thread.is_alive()
    assert renewals[-1] is False  # its one beat found the run finished and ended the thread
    with transaction(db) as repos:
        assert repos.runs.get(run_id).status == "passed"  # type: ignore[union-attr]
    db.dispose()


def test_the_owner_watch_calls_back_once_its_process_exits() -> None:
    owner = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    gone = threading.Event()
    calls: list[int] = []

    def on_gone() -> None:
        calls.append(1)
        gone.set()

    watch = OwnerWatch(owner.pid, on_gone, poll_s=0.01)
    try:
        assert not watch.gone()
        assert owner.stdin is not None
        owner.stdin.close()  # the owner exits
        owner.wait(timeout=30)
        assert gone.wait(timeout=30), "the watch never noticed"
        assert watch.gone() and calls == [1]
    finally:
        watch.stop()
        if owner.poll() is None:
            owner.kill()
