"""The response cache in `llm_calls`: lookups and writes batched per event-loop tick.

With a cache file (`--promptopt-cache-file`), answers are looked up in the file first (read
and verified once, on the first lookup, by `cachefile.read`) and then in the database; new
answers are recorded in the database. The run's own usage is added to its row with the writes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database


USAGE_FLUSH_S = 1.0
"""How long a run's usage from cache hits alone may wait before it is written on its own."""


@dataclass(frozen=True)
class CachedCall:
    """A recorded response and its usage: tokens, and the cost and latency of its call."""

    response: dict[str, Any]
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = 0.0
    latency_ms: float = 0.0


class CallStore:
    """Reads and writes `llm_calls`; concurrent lookups in one tick share one SELECT."""

    def __init__(self, db: Database, cache_file: Path | None = None) -> None:
        self._db = db
        self._cache_file = cache_file
        self._file_entries: dict[str, CachedCall] | None = None
        self._file_lock = threading.Lock()
        self._pending: dict[str, list[asyncio.Future[CachedCall | None]]] = {}
        self._writes: list[tuple[dict[str, Any], bool]] = []
        self._flush_scheduled = False
        self._memo: dict[str, CachedCall] = {}
        self._usage: dict[int, dict[str, float]] = {}
        self._usage_written = time.monotonic()

    def preload(self, hashes: list[str]) -> dict[str, CachedCall]:
        """Fetch recorded calls now (one query) and keep them for the lookups that will follow."""
        found = self._fetch(hashes) if hashes else {}
        self._memo.update(found)
        return found

    async def lookup(self, request_hash: str) -> CachedCall | None:
        """The recorded call for a hash, or None."""
        memo = self._memo.pop(request_hash, None)
        if memo is not None:
            return memo
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CachedCall | None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._resolve_lookups)
        self._pending.setdefault(request_hash, []).append(future)
        return await future

    def _resolve_lookups(self) -> None:
        pending, self._pending = self._pending, {}
        try:
            found = self._fetch(list(pending))
        except Exception as exc:  # the waiting calls report it as their own error
            for futures in pending.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
            return
        for key, futures in pending.items():
            for f in futures:
                if not f.done():
                    f.set_result(found.get(key))

    def _from_file(self) -> dict[str, CachedCall]:
        """The cache file's answers by hash, read on first use (none without a file)."""
        if self._cache_file is None:
            return {}
        with self._file_lock:
            if self._file_entries is None:
                from pytest_promptopt.llm import cachefile

                self._file_entries = {
                    e["request_hash"]: CachedCall(
                        e["response"],
                        e["input_tokens"],
                        e["output_tokens"],
                        e["cost_usd"],
                        float(e["latency_ms"]),
                    )
                    for e in cachefile.read(self._cache_file)
                }
            return self._file_entries

    def _fetch(self, hashes: list[str]) -> dict[str, CachedCall]:
        from pytest_promptopt.storage.repositories import cached_responses

        in_file = self._from_file()
        found = {h: in_file[h] for h in hashes if h in in_file}
        rest = [h for h in hashes if h not in found]
        if not rest:
            return found
        with self._db.read_scope() as connection:
            rows = cached_responses(connection, rest)
        found.update((h, CachedCall(dict(row[0]), *row[1:])) for h, row in rows.items())
        return found

    def count(self, run_id: int, figures: dict[str, float]) -> None:
        """Add an answer's figures (`RUN_USAGE` names) to the run's own totals, written with
        the next flush."""
        totals = self._usage.setdefault(run_id, {})
        for name, value in figures.items():
            totals[name] = totals.get(name, 0) + value
        if time.monotonic() - self._usage_written >= USAGE_FLUSH_S:
            self._schedule()  # else it goes with the next call's write, or at the end

    def record(self, row: dict[str, Any], *, overwrite: bool = False) -> None:
        """Queue a call for writing at the end of this tick (or now, outside a loop)."""
        self._writes.append((row, overwrite))
        self._schedule()

    def _schedule(self) -> None:
        """Flush at the end of this tick (now, outside a loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every queued call in one transaction."""
        self._flush_scheduled = False
        writes, self._writes = self._writes, []
        usage, self._usage = self._usage, {}
        self._usage_written = time.monotonic()
        if not writes and not usage:
            return
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            repos.llm_calls.delete(row["request_hash"] for row, overwrite in writes if overwrite)
            for row, _ in writes:
                repos.llm_calls.add(row)
            for run_id, totals in usage.items():
                repos.runs.add_usage(run_id, totals)

    def forget(self, hashes: list[str]) -> None:
        """Drop recorded calls (answers that proved unusable), so the next run asks again."""
        if not hashes:
            return
        self.flush()
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            repos.llm_calls.delete(hashes)
        in_file = self._from_file()
        for key in hashes:
            self._memo.pop(key, None)
            in_file.pop(key, None)  # not served again this run (the file itself is not changed)

    def capabilities(self, model: str) -> dict[str, Any] | None:
        """What the Models API said of `model` in an earlier run (`model_capabilities`), or None."""
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            return repos.capabilities.get(model)

    def record_capabilities(self, model: str, capabilities: dict[str, Any]) -> None:
        """Keep what the Models API said of `model`, for later runs and replays."""
        from pytest_promptopt.storage.repositories import transaction

        with transaction(self._db) as repos:
            repos.capabilities.put(model, capabilities)
