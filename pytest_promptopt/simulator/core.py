"""The simulator core: parse a Messages API request, dispatch it to a role, build the response."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from pytest_promptopt import protocol
from pytest_promptopt.simulator import analyst, chat, generator, judge, request
from pytest_promptopt.simulator.batches import SimulatedBatches
from pytest_promptopt.simulator.request import Request
from pytest_promptopt.simulator.text import rng_for

Role = Callable[[dict[str, Any], random.Random], dict[str, Any]]
ROLES: dict[str, tuple[str, Role]] = {
    protocol.JUDGE_TOOL: ("judge", judge.judge),
    protocol.PROMPTS_TOOL: ("prompts", generator.submit_prompts),
    protocol.CASES_TOOL: ("cases", generator.submit_cases),
    protocol.ANALYSIS_TOOL: ("analysis", analyst.submit_analysis),
    protocol.REFINE_TOOL: ("refine", analyst.submit_prompt),
}
Reply = tuple[int, dict[str, str], bytes]


class SimulationError(Exception):
    """A request the simulator cannot answer; becomes an Anthropic-style error response."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def _forced_tool(req: Request) -> str | None:
    """The tool the request forces, if any."""
    choice = req.tool_choice
    names = [t.get("name") for t in req.tools]
    if choice.get("type") == "tool":
        return str(choice.get("name"))
    if choice.get("type") == "any" and len(names) == 1:
        return str(names[0])
    return None


def _sampling_key(body: dict[str, Any]) -> str:
    """What the sampled answer depends on: the body without the limits that only cut it short.

    So an answer stopped by `max_tokens` or `stop_sequences` is a prefix of the full one.
    """
    kept = {k: v for k, v in body.items() if k not in ("max_tokens", "stop_sequences")}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False)


class Simulator:
    """The request handler behind every transport: parse, dispatch by role, build the response."""

    def __init__(
        self, *, fail_judge_schema_every: int | None = None, batch_polls: int = 2
    ) -> None:
        self.fail_judge_schema_every = fail_judge_schema_every
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.batches = SimulatedBatches(self, polls_to_end=batch_polls)

    def _count(self, role: str) -> int:
        with self._lock:
            self.calls[role] += 1
            return self.calls[role]

    def respond(self, method: str, path: str, raw: bytes) -> Reply:
        """Status, headers and body for one HTTP request."""
        digest = hashlib.sha256(raw).hexdigest()
        headers = {"content-type": "application/json", "request-id": f"req_sim_{digest[:24]}"}
        try:
            route = path.rstrip("/")
            if route.startswith("/v1/messages/batches"):
                return self.batches.respond(method, route, raw, headers)
            if method != "POST" or route != "/v1/messages":
                raise SimulationError(404, "not_found_error", f"{method} {path} is not served here")
            payload = self._message(raw, digest)
            status = 200
        except SimulationError as exc:
            self._count("error")
            status = exc.status
            payload = {"type": "error", "error": {"type": exc.kind, "message": str(exc)}}
        except Exception as exc:  # a simulator bug must reach the caller as an API error, not hang
            self._count("error")
            status = 500
            message = f"simulator failed: {type(exc).__name__}: {exc}"
            payload = {"type": "error", "error": {"type": "api_error", "message": message}}
        return status, headers, json.dumps(payload, ensure_ascii=False).encode()

    def batch_result(self, raw: bytes) -> dict[str, Any]:
        """A batch item's `result` for one request body: the message, or the error it gets."""
        try:
            message = self._message(raw, hashlib.sha256(raw).hexdigest())
        except SimulationError as exc:
            error = {"type": "error", "error": {"type": exc.kind, "message": str(exc)}}
            return {"type": "errored", "error": error}
        return {"type": "succeeded", "message": message}

    def count(self, role: str) -> int:
        """Count one request served for `role`; returns the count so far."""
        return self._count(role)

    def _message(self, raw: bytes, digest: str) -> dict[str, Any]:
        """The Messages API response body for one request body."""
        try:
            body = json.loads(raw)
            req = request.parse(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SimulationError(400, "invalid_request_error", "body is not JSON") from None
        except request.RequestError as exc:
            raise SimulationError(400, "invalid_request_error", str(exc)) from None
        rng = rng_for(_sampling_key(body))
        tool = _forced_tool(req)
        if tool in ROLES:
            content, stop, out_chars = self._role(tool, req, rng, digest)
            sequence = None
        else:
            self._count("target")
            try:
                answer = chat.reply(req, rng, digest)
            except request.RequestError as exc:
                raise SimulationError(400, "invalid_request_error", str(exc)) from None
            content, stop, sequence = answer.content, answer.stop_reason, answer.stop_sequence
            out_chars = answer.output_chars
        return {
            "id": f"msg_sim_{digest[:24]}",
            "type": "message",
            "role": "assistant",
            "model": req.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": sequence,
            "usage": {
                "input_tokens": max(1, req.prompt_chars() // 4),
                "output_tokens": max(1, out_chars // 4),
            },
        }

    def _role(
        self, tool: str, req: Request, rng: random.Random, digest: str
    ) -> tuple[list[dict[str, Any]], str, int]:
        """The forced tool call of a structured role (judge, generators, analyst)."""
        role, handler = ROLES[tool]
        n = self._count(role)
        data = protocol.decode_data(req.last_user.text)
        if data is None:
            raise SimulationError(
                400, "invalid_request_error", "no <data> block in the last user message"
            )
        result = handler(data, rng)
        every = self.fail_judge_schema_every
        if role == "judge" and every and n % every == 0:
            # The first criterion (functionality, unless the suite has its own rubric) is set
            # deliberately out of range.
            result = {**result, next(iter(result)): 7.0}
        block = {
            "type": "tool_use",
            "id": f"toolu_sim_{digest[:24]}",
            "name": tool,
            "input": result,
        }
        return [block], "tool_use", len(json.dumps(result))
