"""Fixtures of the viewer's tests: a history of real sessions, made once, and the app over it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("starlette", reason='the viewer needs pip install "pytest-promptopt[view]"')

from tests.view.sessions import History, make_history


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Three runs on a SQLite database (see `tests.view.sessions`)."""
    root = tmp_path_factory.mktemp("view-history")
    return make_history(root / "project", f"sqlite:///{root / 'promptopt.db'}")


@pytest.fixture(scope="session")
def pg_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """The same runs on the local PostgreSQL server, in a schema of their own; skips without one."""
    from tests.support.pg_schema import pg_schema

    with pg_schema("v") as url:
        root = tmp_path_factory.mktemp("view-pg")
        yield make_history(root / "project", url)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """The viewer under a real uvicorn, in a thread, on a free port."""

    def __init__(self, url: str, labels: bool) -> None:
        import uvicorn

        from pytest_promptopt.view.serve import build

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        app = build(url, "127.0.0.1", labels)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
