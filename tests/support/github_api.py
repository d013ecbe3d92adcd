"""A loopback stand-in for the GitHub API's issue comments (`promptopt comment --post`'s tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "ghs_loopbackToken1234567890"
REPO = "octo/shop"


@dataclass
class FakeGitHub:
    """The issue comments of pull request 7 and every request the API was sent."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str, dict[str, Any] | None]] = field(default_factory=list)
    status: int = 200
    url: str = ""


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    """A request handler serving `state`: list (paged), create and update issue comments."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, data: object) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            parts = urlsplit(self.path)
            state.requests.append((method, self.path, self.headers["Authorization"], body))
            if state.status != 200:
                self._reply(state.status, {"message": "Resource not accessible by integration"})
                return
            if method == "GET" and parts.path == f"/repos/{REPO}/issues/7/comments":
                page = int(parse_qs(parts.query)["page"][0])
                per = int(parse_qs(parts.query)["per_page"][0])
                self._reply(200, state.comments[(page - 1) * per : page * per])
            elif method == "POST" and parts.path == f"/repos/{REPO}/issues/7/comments":
                n = len(state.comments)
                made = {"id": 900 + n, "body": body["body"],
                        "html_url": f"https://github.test/{REPO}/pull/7#c{n}"}  # fmt: skip
                state.comments.append(made)
                self._reply(201, made)
            elif method == "PATCH" and parts.path.startswith(f"/repos/{REPO}/issues/comments/"):
                wanted = int(parts.path.rsplit("/", 1)[1])
                found = next(c for c in state.comments if c["id"] == wanted)
                found["body"] = body["body"]
                self._reply(200, found)
            else:
                self._reply(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """The stand-in API on a free loopback port, for one test."""
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def github_env(tmp_path: Path, api: str, event: dict[str, Any] | None = None) -> dict[str, str]:
    """A GitHub Actions job's variables for pull request 7 of REPO (an event file under tmp)."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event if event is not None else {"pull_request": {"number": 7}}))
    return {"GITHUB_API_URL": api, "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_PATH": str(path),
            "GITHUB_TOKEN": TOKEN}  # fmt: skip
