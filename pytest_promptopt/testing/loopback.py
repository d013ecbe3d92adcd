"""A loopback Messages API server: the simulator (or a test's own responder) over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_promptopt.simulator.core import Simulator

Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[str, str, bytes, Mapping[str, str]], Reply]
"""Answers one HTTP request: (method, path, body, headers) -> (status, headers, body)."""


def known_capabilities(model: str) -> dict[str, Any] | None:
    """The Models API's `capabilities` of a model the table knows (None: a 404)."""
    from pytest_promptopt.llm.models import capabilities_of, rules_for

    rules = rules_for(model)
    return capabilities_of(rules).as_api() if rules.known else None


class _Server(ThreadingHTTPServer):
    """A threading HTTP server with daemon threads and room for bursts of connections."""

    daemon_threads = True
    request_queue_size = 256
    owner: LoopbackMessagesServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (a killed test run) is not worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    """Serves simulator responses; one handler per request, on its own thread."""

    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY the body, written after the headers, waits for the client's delayed
    # ACK (40 ms on Linux): latency a real API does not add.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        """Answer a Messages API call."""
        self.server.owner.handle(self)

    def do_GET(self) -> None:
        """Answer anything else with the simulator's 404."""
        self.server.owner.handle(self)

    def read_body(self) -> bytes:
        """The request body."""
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Send a complete response; a client that went away just closes the connection."""
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: pytest output is not the place for access logs."""


class LoopbackMessagesServer:
    """A real HTTP server on 127.0.0.1 answering Messages API calls with the simulator."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        in_flight_limit: int | None = None,
        retry_after_s: float = 0.05,
        enforce_model_rules: bool = False,
        responder: Responder | None = None,
    ) -> None:
        """`in_flight_limit` plays an account's concurrency limit: a request beyond it gets a
        429 `rate_limit_error` with `retry-after: retry_after_s` (counted in `refused`).

        `enforce_model_rules` plays today's API for the model each request names (the table
        of `pytest_promptopt.llm.models`): a sampling parameter on Fable 5.x, `budget_tokens`
        on Sonnet 5, a forced tool with thinking, a prefill, structured outputs on a model
        without them... is a 400 with the API's message (kept in `rejected`); a model that
        thinks by default answers with a thinking block first; `GET /v1/models/{id}` answers
        the capabilities of the models the table knows.

        `responder` answers the requests instead of the simulator (a scripted fake's, say);
        the limits, latency and counters above still apply.
        """
        from pytest_promptopt.simulator.core import Simulator

        self.latency_s = latency_s
        self.rejected: list[str] = []
        rules = describe = None
        if enforce_model_rules:
            rules, describe = self._enforce, known_capabilities
        self.simulator: Simulator = Simulator(rules=rules, describe=describe)
        self._responder = responder or self._simulated
        self.in_flight_limit = in_flight_limit
        self.retry_after_s = retry_after_s
        self.refused = 0
        self.request_count = 0
        self.max_in_flight = 0
        self.headers_seen: list[dict[str, str]] = []
        self.model_lookups: list[str] = []
        self.streamed = 0  # Messages calls that asked for a streamed answer
        self._in_flight = 0
        self._admitted = 0  # requests being served under `in_flight_limit`
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The server's URL, e.g. `http://127.0.0.1:54321`."""
        if self._server is None:
            raise RuntimeError(
                "the server is not running; use it as a context manager or call start()"
            )
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackMessagesServer:
        """Bind an ephemeral port and serve on a background thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice, from any thread)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackMessagesServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def handle(self, request: _Handler) -> None:
        """Answer one request (on its handler's thread); subclasses change the answers.

        A Models API lookup (`GET /v1/models/{id}`) is answered at once and kept in
        `model_lookups`, apart from the Messages calls `request_count` counts.
        """
        if request.command == "GET" and request.path.startswith("/v1/models/"):
            with self._lock:
                self.model_lookups.append(request.path.split("?")[0].removeprefix("/v1/models/"))
            path = request.path.split("?")[0]
            request.answer(*self._responder("GET", path, b"", dict(request.headers.items())))
            return
        raw = request.read_body()
        if b'"stream"' in raw and json.loads(raw).get("stream") is True:
            with self._lock:
                self.streamed += 1
        if not self._admit():
            request.answer(*self._refusal())
            return
        sent = dict(request.headers.items())
        self._enter(sent)
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            status, headers, body = self._responder(
                request.command, request.path.split("?")[0], raw, sent
            )
        finally:
            self._leave()
        request.answer(status, headers, body)

    def _simulated(self, method: str, path: str, raw: bytes, headers: Mapping[str, str]) -> Reply:
        """The simulator's answer, for the sample the request's header names."""
        from pytest_promptopt.simulator.request import sample_of

        return self.simulator.respond(method, path, raw, sample=sample_of(headers))

    def _enforce(self, body: dict[str, Any]) -> str | None:
        """The API's 400 message for a request breaking its model's rules (kept in `rejected`).

        A model that thinks by default is given `thinking: {type: adaptive}`, so the answer
        starts with a thinking block as the API's does.
        """
        from pytest_promptopt.llm.models import Broken, broken_rule, rules_for

        rules = rules_for(str(body.get("model")))
        broken = broken_rule(rules, body)
        stray = [k for k in ("extra_body", "extra_headers", "extra_query", "timeout") if k in body]
        if stray:  # SDK options that reached the body (a batch item's params, say)
            broken = Broken(f"{stray[0]}: Extra inputs are not permitted", "")
        if broken is not None:
            with self._lock:
                self.rejected.append(f"{body.get('model')}: {broken.message}")
            return broken.message
        if "thinking" not in body and rules.thinks_by_default:
            body["thinking"] = {"type": "adaptive"}
        return None

    def _admit(self) -> bool:
        """False (and counted in `refused`) when `in_flight_limit` requests are being served."""
        with self._lock:
            if self.in_flight_limit is None:
                return True
            if self._admitted >= self.in_flight_limit:
                self.request_count += 1
                self.refused += 1
                return False
            self._admitted += 1
            return True

    def _enter(self, headers: dict[str, str]) -> None:
        with self._lock:
            self.request_count += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self.headers_seen.append({k.lower(): v for k, v in headers.items()})

    def _refusal(self) -> tuple[int, dict[str, str], bytes]:
        """The API's answer to a request over the concurrency limit."""
        error = {"type": "rate_limit_error", "message": "Number of concurrent connections exceeded"}
        headers = {
            "content-type": "application/json",
            "retry-after": f"{self.retry_after_s:g}",
            "request-id": f"req_loopback_refused_{self.refused:06d}",
        }
        return 429, headers, json.dumps({"type": "error", "error": error}).encode()

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self.in_flight_limit is not None:
                self._admitted -= 1
