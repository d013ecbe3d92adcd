"""`--promptopt-batch`: model calls gathered into Message Batches, at the API's batch discount.

The collector gathers requests until none has arrived for a short quiet spell (the evaluator
starts every startable call in one go), submits one batch per model, records the batch id and
its custom_ids (the request hashes) in the database, polls until it ends and hands each caller
its own result. A run killed while waiting finds its unfinished batches in the database and
collects them instead of sending the requests again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import LLMError
from pytest_promptopt.redaction import for_terminal
from pytest_promptopt.settings import SIMULATED_MODEL

if TYPE_CHECKING:
    from pytest_promptopt.llm.clients import ClientPool
    from pytest_promptopt.storage.database import Database

# The roles whose calls go through batches: the evaluations. Generator and analyst calls stay
# direct, since each optimize stage waits for them before it can go on.
BATCHED_ROLES = frozenset({"target", "judge"})
MAX_REQUESTS_PER_BATCH = 10_000  # well under the API's 100,000 requests and 256 MB


@dataclass(frozen=True)
class BatchTiming:
    """How long to gather requests and how often to poll a batch, in seconds."""

    quiet_s: float = 0.25  # submit once no request arrived for this long
    max_wait_s: float = 2.0  # ... or once the first waiting request waited this long
    poll_s: float = 2.0  # first poll interval; grows by half each poll
    max_poll_s: float = 30.0
    progress_every_s: float = 15.0  # at most one progress line per batch this often

    @classmethod
    def fast(cls) -> BatchTiming:
        """The simulator's timing: its batches end after a poll, so nobody should wait."""
        return cls(quiet_s=0.02, max_wait_s=0.2, poll_s=0.01, max_poll_s=0.05)


@dataclass
class _Waiting:
    """A request waiting to be submitted."""

    key: str
    request: dict[str, Any]


class BatchCollector:
    """Sends requests through the Message Batches API; `send` returns the message as a dict."""

    def __init__(
        self,
        clients: ClientPool,
        db: Database | None,
        *,
        run_id: int | None = None,
        timing: BatchTiming | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._clients = clients
        self._db = db
        self._run_id = run_id
        self._timing = timing or BatchTiming()
        self._progress = progress
        self._resumable: dict[str, tuple[str, str]] | None = None  # hash -> (batch id, model)
        self._futures: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._what: dict[str, str] = {}  # hash -> "judge call for suite[case]", for errors
        self._requests: dict[str, dict[str, Any]] = {}  # hash -> request, while it is awaited
        self._unclaimed: dict[str, dict[str, Any]] = {}  # collected results nobody asked for yet
        self._waiting: dict[str, list[_Waiting]] = {}  # model -> requests to submit
        self._first_wait = 0.0
        self._last_arrival = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._keys_by_batch: dict[str, set[str]] = {}  # batches submitted here -> their hashes
        self.submitted: list[str] = []  # batch ids created by this collector
        self.resumed: list[str] = []  # unfinished batches of earlier runs collected here

    async def send(self, request: dict[str, Any], key: str, *, what: str) -> dict[str, Any]:
        """The response to `request` (hash `key`), from a new batch or one already submitted."""
        if self._resumable is None:
            self._resumable = self._load_unfinished()
        if key in self._unclaimed:
            return self._unclaimed.pop(key)
        future = self._futures.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[key] = future
            self._what[key] = what
            self._requests[key] = request
            earlier = self._resumable.get(key)
            if earlier is not None:
                if earlier[0] not in self._pollers:
                    self._say(f"batch {earlier[0]}: resuming it (submitted by an earlier run)")
                self._poll(*earlier)
            else:
                try:
                    params = batch_params(request)
                except LLMError as exc:
                    self._fail(key, f"{what} cannot go in a batch: {exc}")
                else:
                    self._queue(str(request["model"]), _Waiting(key, params))
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._futures.pop(key, None)
                self._what.pop(key, None)
                self._requests.pop(key, None)

    # --- gathering and submitting ---------------------------------------------------------
    def _queue(self, model: str, waiting: _Waiting) -> None:
        now = time.monotonic()
        if not any(self._waiting.values()):
            self._first_wait = now
        self._last_arrival = now
        self._waiting.setdefault(model, []).append(waiting)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_when_quiet())

    async def _flush_when_quiet(self) -> None:
        """Submit once arrivals pause (or the oldest waited long enough, or a batch is full)."""
        while any(self._waiting.values()):
            timing = min((self._timing_of(m) for m in self._waiting), key=lambda t: t.quiet_s)
            now = time.monotonic()
            quiet = now - self._last_arrival >= timing.quiet_s
            overdue = now - self._first_wait >= timing.max_wait_s
            full = any(len(w) >= MAX_REQUESTS_PER_BATCH for w in self._waiting.values())
            if quiet or overdue or full:
                waiting, self._waiting = self._waiting, {}
                for model, items in waiting.items():
                    for start in range(0, len(items), MAX_REQUESTS_PER_BATCH):
                        chunk = items[start : start + MAX_REQUESTS_PER_BATCH]
                        try:
                            await self._submit(model, chunk)
                        except Exception as exc:  # never leave a caller waiting for nothing
                            for w in chunk:
                                what = self._what.get(w.key, "call")
                                self._fail(w.key, f"{what} could not be batched: {_describe(exc)}")
                continue
            await asyncio.sleep(min(timing.quiet_s, timing.max_wait_s) / 2)

    async def _submit(self, model: str, items: list[_Waiting]) -> None:
        """Create one batch, record it, and start polling it."""
        client = self._clients.for_model(model)
        requests: Any = [{"custom_id": w.key, "params": w.request} for w in items]
        try:
            batch = await client.messages.batches.create(requests=requests)
        except Exception as exc:  # every waiting call reports it as its own error
            cause = _describe(exc)
            for w in items:
                self._fail(w.key, f"{self._what.get(w.key, 'call')} could not be batched: {cause}")
            return
        keys = [w.key for w in items]
        self._keys_by_batch[batch.id] = set(keys)
        try:
            self._record(batch.id, model, keys)
        except Exception as exc:  # the batch is on its way all the same: collect it
            self._say(f"batch {batch.id}: not recorded, a killed run would send it again ({exc})")
        self.submitted.append(batch.id)
        self._say(f"batch {batch.id}: {len(keys)} requests submitted ({model})")
        self._poll(batch.id, model)

    # --- polling and collecting -----------------------------------------------------------
    def _poll(self, batch_id: str, model: str) -> None:
        """Start polling a batch unless something already does."""
        if batch_id not in self._pollers:
            task = asyncio.get_running_loop().create_task(self._collect(batch_id, model))
            self._pollers[batch_id] = task

    async def _collect(self, batch_id: str, model: str) -> None:
        """Wait for a batch to end, then hand out its results and mark it collected."""
        timing = self._timing_of(model)
        delay = timing.poll_s
        last_said = time.monotonic()  # the batch was just announced (submitted or resumed)
        client = self._clients.for_model(model)
        try:
            while True:
                batch = await client.messages.batches.retrieve(batch_id)
                counts = batch.request_counts
                done = counts.succeeded + counts.errored + counts.canceled + counts.expired
                now = time.monotonic()
                ended = batch.processing_status == "ended"
                if ended or now - last_said >= timing.progress_every_s:
                    last_said = now
                    self._say(
                        f"batch {batch_id}: {counts.processing} processing, {done} done"
                        f" ({counts.errored + counts.canceled + counts.expired} not succeeded)"
                    )
                if ended:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, timing.max_poll_s)
            seen: set[str] = set()
            async for line in await client.messages.batches.results(batch_id):
                seen.add(line.custom_id)
                self._deliver(batch_id, line.custom_id, line.result)
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404 and batch_id not in self.submitted:
                self._resubmit(batch_id, model)
                return
            # Left `submitted` in the database: the next run collects it again.
            cause = _describe(exc)
            for key in self._members(batch_id):
                self._fail(key, f"{self._what.get(key, 'call')} in batch {batch_id}: {cause}")
            return
        finally:
            self._pollers.pop(batch_id, None)
        members = self._members(batch_id)
        self._forget_resumable(batch_id)
        with contextlib.suppress(Exception):  # at worst the next run collects it again
            self._mark_collected(batch_id)
        for key in members - seen:
            self._fail(key, f"{self._what.get(key, 'call')}: batch {batch_id} has no result for it")

    def _resubmit(self, batch_id: str, model: str) -> None:
        """An earlier run's batch the API no longer knows: send the requests awaited again."""
        members = self._members(batch_id)
        self._forget_resumable(batch_id)
        with contextlib.suppress(Exception):
            self._mark_collected(batch_id)
        self._say(f"batch {batch_id}: not found, sending its {len(members)} requests again")
        for key in members:
            try:
                self._queue(model, _Waiting(key, batch_params(self._requests[key])))
            except LLMError as exc:
                self._fail(key, f"{self._what.get(key, 'call')} cannot go in a batch: {exc}")

    def _deliver(self, batch_id: str, key: str, result: Any) -> None:
        """Resolve the caller waiting for `key` with its result (or keep it for a later one)."""
        kind = getattr(result, "type", "")
        if kind == "succeeded":
            message: dict[str, Any] = result.message.model_dump(mode="json", exclude_none=True)
            future = self._futures.get(key)
            if future is None:
                self._unclaimed[key] = message
            elif not future.done():
                future.set_result(message)
            return
        what = self._what.get(key, "call")
        if kind == "errored":
            error = getattr(getattr(result, "error", None), "error", None)
            cause = f"{getattr(error, 'type', 'error')}: {getattr(error, 'message', '')}"
            self._fail(key, f"{what} failed in batch {batch_id}: {cause}")
        else:  # canceled or expired
            self._fail(key, f"{what} was {kind or 'not answered'} in batch {batch_id}")

    def _members(self, batch_id: str) -> set[str]:
        """The waiting calls whose requests are in `batch_id`."""
        known = self._resumable or {}
        mine = {k for k, (b, _) in known.items() if b == batch_id}
        mine |= self._keys_by_batch.get(batch_id, set())
        return {k for k in self._futures if k in mine}

    def _timing_of(self, model: str) -> BatchTiming:
        """The simulator's fast timing for its own batches, the configured one for the API's."""
        return BatchTiming.fast() if model == SIMULATED_MODEL else self._timing

    def _fail(self, key: str, message: str) -> None:
        future = self._futures.get(key)
        if future is not None and not future.done():
            future.set_exception(LLMError(message))
            future.exception()  # retrieved: the waiter re-raises it

    def _forget_resumable(self, batch_id: str) -> None:
        if self._resumable:
            for key in [k for k, (b, _) in self._resumable.items() if b == batch_id]:
                del self._resumable[key]

    # --- the database ---------------------------------------------------------------------
    def _record(self, batch_id: str, model: str, keys: list[str]) -> None:
        """Store the batch id and its custom_ids, so a killed run resumes it."""
        if self._db is None:
            return
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            repos.batches.add(batch_id, model, keys, self._run_id)

    def _load_unfinished(self) -> dict[str, tuple[str, str]]:
        """Request hash -> (batch id, model) of the batches no run has collected yet."""
        if self._db is None:
            return {}
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            rows = repos.batches.unfinished()
        found: dict[str, tuple[str, str]] = {}
        for batch_id, model, hashes in rows:
            for key in hashes:
                found[key] = (batch_id, model)
        return found

    def _mark_collected(self, batch_id: str) -> None:
        if batch_id not in self.submitted:
            self.resumed.append(batch_id)
        if self._db is None:
            return
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            repos.batches.collected(batch_id)

    def _say(self, text: str) -> None:
        if self._progress is not None:
            self._progress(f"promptopt: {for_terminal(text)}")

    async def aclose(self) -> None:
        """Stop gathering and polling (an unfinished batch stays recorded for the next run)."""
        tasks = [t for t in (self._flusher, *self._pollers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _describe(exc: BaseException) -> str:
    """One line naming an SDK error: its HTTP status and message when it has them."""
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"HTTP {status} {message}" if status else f"{type(exc).__name__}: {message}"


TRANSPORT_ONLY = {
    "extra_headers": "headers go with the whole batch request, not with one of its items",
    "extra_query": "query parameters go with the whole batch request, not with one of its items",
}
"""SDK options of `messages.create` that a batch item's `params` cannot carry, and why."""


def batch_params(request: dict[str, Any]) -> dict[str, Any]:
    """A request as a batch item's `params`: what `messages.create` would put on the wire.

    `extra_body` is merged in (the SDK sends its fields in the body); `timeout` is left out
    (a client-side limit: a batch item has none); `extra_headers` and `extra_query` cannot be
    sent per item, so a request with them is an LLMError naming the key and the way out.
    """
    for key, why in TRANSPORT_ONLY.items():
        if request.get(key):
            raise LLMError(
                f"the suite's params set {key!r}, which a batch item cannot carry ({why}); "
                f"run this suite without --promptopt-batch, or drop {key!r}"
            )
    params = {k: v for k, v in request.items() if k not in ("timeout", *TRANSPORT_ONLY)}
    extra = params.pop("extra_body", None)
    if isinstance(extra, dict):
        params.update(extra)
    return params
