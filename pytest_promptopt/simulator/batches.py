"""The simulator's Message Batches endpoints: create, retrieve (ends after some polls), results.

A batch is answered request by request with the simulator's own Messages answers when it ends,
so a batched call gets exactly what a direct call would.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

PREFIX = "/v1/messages/batches"
Reply = tuple[int, dict[str, str], bytes]


@dataclass
class _Batch:
    """One submitted batch: its requests, polls so far and, once ended, the result lines."""

    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    polls: int = 0
    results: list[dict[str, Any]] | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _error(status: int, kind: str, message: str) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


class _Answering(Protocol):
    """What the batches need of the simulator (kept abstract: the core imports this module)."""

    def count(self, role: str) -> int:
        """Count one request served for `role`."""

    def batch_result(self, raw: bytes) -> dict[str, Any]:
        """A batch item's `result`: succeeded with the message, or errored with the cause."""


class SimulatedBatches:
    """The batches one simulator holds; thread-safe (the loopback server answers on threads)."""

    def __init__(self, simulator: _Answering, *, polls_to_end: int = 2) -> None:
        self._simulator = simulator
        self.polls_to_end = polls_to_end
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()

    def respond(self, method: str, route: str, raw: bytes, headers: dict[str, str]) -> Reply:
        """Status, headers and body for one request under /v1/messages/batches."""
        rest = route.removeprefix(PREFIX).strip("/")
        if method == "POST" and not rest:
            return self._create(raw, headers)
        batch_id, _, tail = rest.partition("/")
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or method != "GET" or tail not in ("", "results"):
            return _error(404, "not_found_error", f"{method} {route} is not served here")
        if tail == "results":
            return self._results(batch, headers)
        return self._retrieve(batch, headers)

    def _create(self, raw: bytes, headers: dict[str, str]) -> Reply:
        self._simulator.count("batch_create")
        try:
            requests = json.loads(raw)["requests"]
            ids = [str(r["custom_id"]) for r in requests]
        except (ValueError, KeyError, TypeError):
            return _error(400, "invalid_request_error", "requests: a list of {custom_id, params}")
        if not requests or len(set(ids)) != len(ids):
            return _error(400, "invalid_request_error", "requests: empty, or custom_id repeated")
        with self._lock:
            # Unique across simulators: xdist workers each have their own, and one database.
            batch_id = f"msgbatch_sim_{uuid.uuid4().hex[:24]}"
            batch = _Batch(batch_id, requests, datetime.now(timezone.utc))
            self._batches[batch_id] = batch
        return 200, headers, json.dumps(self._describe(batch)).encode()

    def _retrieve(self, batch: _Batch, headers: dict[str, str]) -> Reply:
        self._simulator.count("batch_retrieve")
        with self._lock:
            batch.polls += 1
            due = batch.results is None and batch.polls >= self.polls_to_end
        if due:
            self._end(batch)
        return 200, headers, json.dumps(self._describe(batch)).encode()

    def _results(self, batch: _Batch, headers: dict[str, str]) -> Reply:
        self._simulator.count("batch_results")
        if batch.results is None:
            return _error(400, "invalid_request_error", f"batch {batch.id} is still in progress")
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch.results)
        return 200, {**headers, "content-type": "application/binary"}, lines.encode()

    def _end(self, batch: _Batch) -> None:
        """Answer every request of the batch, each as the Messages endpoint would."""
        results: list[dict[str, Any]] = []
        for item in batch.requests:
            raw = json.dumps(item.get("params"), ensure_ascii=False).encode()
            result = self._simulator.batch_result(raw)
            results.append({"custom_id": item["custom_id"], "result": result})
        with self._lock:
            if batch.results is None:
                batch.results = results

    def _describe(self, batch: _Batch) -> dict[str, Any]:
        """The MessageBatch object of the API."""
        ended = batch.results is not None
        kinds = [r["result"]["type"] for r in batch.results or []]
        counts = {k: kinds.count(k) for k in ("succeeded", "errored", "canceled", "expired")}
        created = batch.created_at
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else len(batch.requests), **counts},
            "created_at": created.isoformat(),
            "expires_at": (created + timedelta(hours=24)).isoformat(),
            "ended_at": datetime.now(timezone.utc).isoformat() if ended else None,
            "results_url": f"{PREFIX}/{batch.id}/results" if ended else None,
        }
