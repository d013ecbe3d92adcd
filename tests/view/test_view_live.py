"""The viewer under a real uvicorn on a free port: on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from pytest_promptopt.view.links import api_url, case_url
from tests.view.conftest import LiveServer
from tests.view.sessions import HOSTILE_ID, History


def _walk(history: History, labels: bool) -> dict[str, int]:
    """GET every page and its JSON twin over HTTP; the status of each."""
    paths = [
        "/",
        f"/runs/{history.regressed}",
        case_url(history.regressed, "hostile@full", HOSTILE_ID),
        f"/compare/{history.baseline}/{history.regressed}",
        f"/runs/{history.optimized}/optimize",
        "/label",
    ]
    statuses = {}
    with (
        LiveServer(history.url, labels=labels) as server,
        httpx.Client(base_url=server.base, timeout=60) as http,
    ):
        for path in paths:
            for url in (path, api_url(path)):
                answer = http.get(url)
                statuses[url] = answer.status_code
                assert "<script>alert" not in answer.text, url
        refused = http.post("/api/labels", json={"evaluation_id": 1, "level": 2})
        statuses["POST /api/labels"] = refused.status_code
        runs = http.get("/api/runs").json()["runs"]
        assert [r["id"] for r in runs] == [history.optimized, history.regressed, history.baseline]
        assert runs[-1]["pass_rate"] == 1.0
    return statuses


def test_uvicorn_serves_every_route_on_sqlite(history: History) -> None:
    statuses = _walk(history, labels=False)
    assert statuses.pop("POST /api/labels") == 403
    assert set(statuses.values()) == {200}, statuses


@pytest.mark.postgres
def test_uvicorn_serves_every_route_on_postgres(pg_history: History) -> None:
    statuses = _walk(pg_history, labels=True)
    assert statuses.pop("POST /api/labels") == 403  # labels on, but no token: still refused
    assert set(statuses.values()) == {200}, statuses
