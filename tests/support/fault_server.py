"""A loopback Messages API server over the simulator that injects seeded faults.

Faults (chosen per request by a `random.Random` seeded with the seed, the body and the attempt):

- ``429``: rate limited, with ``retry-after`` (seconds, small) so the SDK's retry honours it
- ``529``: overloaded
- ``500``: internal server error
- ``drop``: the connection is closed without any response
- ``stall``: the handler sleeps longer than the client timeout, then closes the connection

Targeted faults: every request whose body contains ``always_500_for`` gets a 500; with
``always_stall`` every request stalls; judge requests (forced ``submit_verdict`` tool) whose body
contains ``judge_bad_for`` get a schema-violating verdict (a score of 7), and with
``judge_truncate_first`` every first judge attempt gets a truncated verdict (fields missing).

Counts requests and faults by kind; records, for each retry after a 429, how long after the 429
it arrived (to check that ``retry-after`` is honoured). Bounded: it shuts itself down after
``lifetime_s`` seconds and answers 503 after ``max_requests`` requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pytest_promptopt import protocol
from pytest_promptopt.testing import LoopbackMessagesServer

TRANSIENT_KINDS = ("429", "529", "500", "drop")


@dataclass
class FaultConfig:
    """What to inject and how often."""

    seed: int = 0
    rate: float = 0.0
    kinds: dict[str, float] = field(
        default_factory=lambda: {"429": 1.0, "529": 1.0, "500": 1.0, "drop": 0.5}
    )
    retry_after_s: float = 0.05
    # A small `retry-after-ms` on 5xx keeps retries of 500/529 quick (the SDK honours it).
    hint_5xx_ms: int | None = 20
    stall_s: float = 1.6
    latency_s: float = 0.0
    always_500_for: str | None = None
    always_stall: bool = False
    judge_bad_for: str | None = None
    judge_truncate_first: bool = False
    max_requests: int = 5000
    # Random faults stop after this many sends of one body (the tests retry up to 6 times).
    max_faults_per_body: int = 3
    lifetime_s: float = 150.0


def canonical_body(raw: bytes | str) -> str:
    """A request body as sorted-key JSON (the same for the wire body and a stored request)."""
    try:
        return json.dumps(json.loads(raw), sort_keys=True)
    except ValueError:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _judge_info(raw: bytes) -> tuple[bool, bool]:
    """(is a judge request, is a schema retry) of a request body, in either shape.

    The judge asks with a forced tool or with structured outputs (`output_config.format`,
    whose schema's title names the verdict model). A schema retry answers the bad verdict
    with a `tool_result` that has `is_error`, or with a user turn saying it did not match.
    """
    try:
        body = json.loads(raw)
    except ValueError:
        return False, False
    choice = body.get("tool_choice") or {}
    form = (body.get("output_config") or {}).get("format") or {}
    title = (form.get("schema") or {}).get("title") if isinstance(form, dict) else None
    verdict = protocol.TOOL_MODELS[protocol.JUDGE_TOOL].__name__
    is_judge = choice.get("name") == protocol.JUDGE_TOOL or title == verdict
    last = (body.get("messages") or [{}])[-1].get("content")
    retry = isinstance(last, list) and any(
        isinstance(b, dict)
        and (
            (b.get("type") == "tool_result" and b.get("is_error"))
            or (b.get("type") == "text" and "did not match the JSON schema" in str(b.get("text")))
        )
        for b in last
    )
    return is_judge, retry


def _verdict_of(block: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The verdict an answer block holds (a tool call's input or a JSON text), and which."""
    if block.get("type") == "tool_use":
        return dict(block["input"]), True
    return dict(json.loads(block["text"])), False


class FaultServer(LoopbackMessagesServer):
    """The loopback Messages API server, with injected faults; a context manager."""

    def __init__(self, config: FaultConfig | None = None, **overrides: Any) -> None:
        cfg = config or FaultConfig()
        for key, value in overrides.items():
            setattr(cfg, key, value)
        super().__init__(latency_s=cfg.latency_s)
        self.config = cfg
        self.requests = 0
        self.ok = 0
        self.faults: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()  # request digest -> times seen
        # Canonical body (parsed JSON, sorted keys) -> times seen: compared with llm_calls.
        self.canonical: Counter[str] = Counter()
        self._seen = threading.Condition(self._lock)  # notified at every request and `wake`
        self.retry_after_gaps: list[tuple[float, float]] = []  # (gap seen, retry-after sent)
        self._last_429: dict[str, float] = {}
        self._timer: threading.Timer | None = None
        self._open = threading.Event()
        self._open.set()

    # --- holding requests ---------------------------------------------------------------
    def hold(self) -> None:
        """Keep every request waiting (counted, unanswered) until `release`: a test's sync point."""
        self._open.clear()

    def release(self) -> None:
        """Answer the held requests and every later one."""
        self._open.set()

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> FaultServer:
        """Serve, and shut down on our own after `lifetime_s` (a hung test cannot hang it)."""
        super().start()
        self._timer = threading.Timer(self.config.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving (also called by the lifetime timer)."""
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        super().stop()

    # --- synchronisation ----------------------------------------------------------------
    def wait_for_requests(self, n: int, give_up: Any, timeout: float = 60.0) -> bool:
        """Block until the server has seen `n` requests (True) or `give_up()` holds (False).

        `give_up` is checked whenever a request arrives or `wake` is called (e.g. by a thread
        that waited for the client process to exit); no polling, no sleep.
        """
        with self._seen:
            self._seen.wait_for(lambda: self.requests >= n or give_up(), timeout)
            return self.requests >= n

    def wake(self) -> None:
        """Make `wait_for_requests` check its `give_up` again."""
        with self._seen:
            self._seen.notify_all()

    # --- figures ------------------------------------------------------------------------
    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def repeated_requests(self) -> int:
        """Requests whose exact body had been seen before (retries and re-sends)."""
        return sum(n - 1 for n in self.bodies.values() if n > 1)

    # --- serving ------------------------------------------------------------------------
    def _decide(self, raw: bytes, digest: str) -> str | None:
        cfg = self.config
        with self._lock:
            self.requests += 1
            self.bodies[digest] += 1
            self.canonical[canonical_body(raw)] += 1
            self._seen.notify_all()
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            sent_429 = self._last_429.pop(digest, None)
            if sent_429 is not None:
                self.retry_after_gaps.append((time.monotonic() - sent_429, cfg.retry_after_s))
            if self.requests > cfg.max_requests:
                return "cap"
            if cfg.always_500_for and cfg.always_500_for.encode() in raw:
                return "500"
            if cfg.always_stall:
                return "stall"
            attempt = self.bodies[digest]  # 1 for the first send of this body
            if cfg.rate and attempt <= cfg.max_faults_per_body:
                # Seeded per (body, attempt), not by arrival order, so concurrent clients see
                # the same faults every run; capped per body so retries always get through.
                rng = random.Random(f"{cfg.seed}:{digest}:{attempt}")
                if rng.random() < cfg.rate:
                    kinds = list(cfg.kinds)
                    return rng.choices(kinds, weights=[cfg.kinds[k] for k in kinds])[0]
            return None

    def handle(self, h: Any) -> None:
        """Answer one request: a fault, or the simulator's answer (maybe corrupted)."""
        raw = h.read_body()
        if h.command != "POST":  # a Models API lookup: faults are for Messages requests
            status, headers, body = self.simulator.respond(h.command, h.path.split("?")[0], raw)
            h.answer(status, headers, body)
            return
        digest = hashlib.sha256(raw).hexdigest()
        fault = self._decide(raw, digest)
        try:
            self._open.wait(self.config.lifetime_s)
            if self.config.latency_s:
                time.sleep(self.config.latency_s)
            if fault is not None:
                with self._lock:
                    self.faults[fault] += 1
            if fault in ("drop", "stall"):
                if fault == "stall":
                    time.sleep(self.config.stall_s)
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None:
                self._error(h, fault, digest)
                return
            status, headers, body = self.simulator.respond(h.command, h.path.split("?")[0], raw)
            if status == 200:
                body = self._maybe_corrupt_judge(raw, body)
            with self._lock:
                self.ok += 1
            h.answer(status, headers, body)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _maybe_corrupt_judge(self, raw: bytes, body: bytes) -> bytes:
        cfg = self.config
        if not (cfg.judge_bad_for or cfg.judge_truncate_first):
            return body
        is_judge, retry = _judge_info(raw)
        if not is_judge:
            return body
        payload = json.loads(body)
        block = next(b for b in payload["content"] if b.get("type") in ("tool_use", "text"))
        verdict, as_tool = _verdict_of(block)
        kind = None
        if cfg.judge_bad_for and cfg.judge_bad_for.encode() in raw:
            verdict = {**verdict, "functionality": 7}
            kind = "judge_schema"
        elif cfg.judge_truncate_first and not retry:
            keys = list(verdict)
            verdict = {k: verdict[k] for k in keys[: len(keys) // 2]}
            kind = "judge_truncated"
        if kind is None:
            return body
        if as_tool:
            block["input"] = verdict
        else:
            block["text"] = json.dumps(verdict)
        with self._lock:
            self.faults[kind] += 1
        return json.dumps(payload).encode()

    def _error(self, h: Any, fault: str, digest: str) -> None:
        cfg = self.config
        status = {"429": 429, "529": 529, "500": 500, "cap": 503}[fault]
        kind = {
            429: "rate_limit_error",
            529: "overloaded_error",
            500: "api_error",
            503: "api_error",
        }[status]
        with self._lock:
            n = self.requests
        headers = {"content-type": "application/json", "request-id": f"req_fault_{n:06d}"}
        if status == 429:
            headers["retry-after"] = str(cfg.retry_after_s)
        elif status != 503 and cfg.hint_5xx_ms is not None:
            headers["retry-after-ms"] = str(cfg.hint_5xx_ms)
        if status == 503:
            headers["x-should-retry"] = "false"
        message = f"injected {fault}"
        body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        h.answer(status, headers, body)
        if status == 429:
            with self._lock:
                self._last_429[digest] = time.monotonic()
