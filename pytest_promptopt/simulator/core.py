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
from pytest_promptopt.simulator import chat, judge, request
from pytest_promptopt.simulator.batches import SimulatedBatches
from pytest_promptopt.simulator.request import Request
from pytest_promptopt.simulator.roles import NOISY_ROLES, ROLES, structured_role
from pytest_promptopt.simulator.stream import STREAM_HEADERS, sse_body
from pytest_promptopt.simulator.text import rng_for

Reply = tuple[int, dict[str, str], bytes]
Rules = Callable[[dict[str, Any]], str | None]
"""A check of a request body against a model's rules: the API's 400 message, or None."""
Describe = Callable[[str], dict[str, Any] | None]
"""What the Models API says of a model: its `capabilities` object, or None (404)."""

REFUSAL_TRIGGERS = ("nerve agent", "bioweapon")
"""The simulated model under test refuses a question naming one of these (category `bio`)."""

SIMULATED_CAPABILITIES: dict[str, Any] = {
    "batch": {"supported": True},
    "citations": {"supported": True},
    "code_execution": {"supported": False},
    "context_management": {"supported": False},
    "effort": {
        "supported": True,
        **{e: {"supported": True} for e in ("low", "medium", "high", "xhigh", "max")},
    },
    "image_input": {"supported": True},
    "pdf_input": {"supported": True},
    "server_tools": {"supported": False},
    "structured_outputs": {"supported": False},
    "thinking": {
        "supported": True,
        "types": {
            "adaptive": {"supported": True},
            "between_tools": {"supported": False},
            "disabled": {"supported": True},
            "enabled": {"supported": True},
        },
    },
}
"""What the Models API says of `simulated`: it thinks when asked, and answers with a tool."""


class SimulationError(Exception):
    """A request the simulator cannot answer; becomes an Anthropic-style error response."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def _streams(raw: bytes) -> bool:
    """True for a request asking for a streamed answer (`stream: true`)."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and body.get("stream") is True


def _thinks(body: dict[str, Any]) -> str | None:
    """How the answer shows its thinking (`summarized`, `omitted`), or None: no thinking."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("adaptive", "enabled"):
        return None
    return "omitted" if thinking.get("display") == "omitted" else "summarized"


def _thinking_block(display: str, question: str, digest: str) -> dict[str, Any]:
    """A thinking block before the answer (its text left out when `display` is `omitted`)."""
    summary = f"The user asks: {question[:160]}. I work out what is asked before I answer."
    return {
        "type": "thinking",
        "thinking": "" if display == "omitted" else summary,
        "signature": f"sig_sim_{digest[:32]}",
    }


def _sampling_key(body: dict[str, Any]) -> str:
    """What the sampled answer depends on: the body without the limits that only cut it short.

    So an answer stopped by `max_tokens` or `stop_sequences` is a prefix of the full one.
    """
    kept = {k: v for k, v in body.items() if k not in ("max_tokens", "stop_sequences", "stream")}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False)


class Simulator:
    """The request handler behind every transport: parse, dispatch by role, build the response."""

    def __init__(
        self,
        *,
        judge_noise: float | None = None,
        batch_polls: int = 2,
        rules: Rules | None = None,
        describe: Describe | None = None,
    ) -> None:
        """`rules` plays a model's request rules (each broken one a 400); `describe` answers
        the Models API for names other than `simulated`."""
        self.rules = rules
        self.describe = describe
        # The judge's noise: given, else PROMPTOPT_SIMULATED_JUDGE_NOISE (a bad value raises).
        self.judge_noise = judge.noise_from_env() if judge_noise is None else judge_noise
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._prompt_cache: set[str] = set()
        self.batches = SimulatedBatches(self, polls_to_end=batch_polls)

    def _count(self, role: str) -> int:
        with self._lock:
            self.calls[role] += 1
            return self.calls[role]

    def respond(self, method: str, path: str, raw: bytes, *, sample: int = 0) -> Reply:
        """Status, headers and body for one HTTP request (`sample`: which sample of it)."""
        digest = hashlib.sha256(raw if not sample else raw + f"#{sample}".encode()).hexdigest()
        headers = {"content-type": "application/json", "request-id": f"req_sim_{digest[:24]}"}
        try:
            route = path.rstrip("/")
            if route.startswith("/v1/messages/batches"):
                return self.batches.respond(method, route, raw, headers)
            if method == "GET" and route.startswith("/v1/models/"):
                payload = self._model_info(route.removeprefix("/v1/models/"))
                return 200, headers, json.dumps(payload).encode()
            if method != "POST" or route != "/v1/messages":
                raise SimulationError(404, "not_found_error", f"{method} {path} is not served here")
            payload = self._message(raw, digest, sample)
            status = 200
            if _streams(raw):
                return status, {**headers, **STREAM_HEADERS}, sse_body(payload)
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

    def _model_info(self, model: str) -> dict[str, Any]:
        """The Models API's answer for a model; a 404 for one nobody describes."""
        capabilities = SIMULATED_CAPABILITIES if model == "simulated" else None
        if capabilities is None and self.describe is not None:
            capabilities = self.describe(model)
        if capabilities is None:
            raise SimulationError(404, "not_found_error", f"model: {model}")
        return {
            "type": "model",
            "id": model,
            "display_name": model,
            "created_at": "2026-01-01T00:00:00Z",
            "lifecycle": "active",
            "capabilities": capabilities,
        }

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

    def _message(self, raw: bytes, digest: str, sample: int = 0) -> dict[str, Any]:
        """The Messages API response body for one request body."""
        try:
            body = json.loads(raw)
            req = request.parse(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SimulationError(400, "invalid_request_error", "body is not JSON") from None
        except request.RequestError as exc:
            raise SimulationError(400, "invalid_request_error", str(exc)) from None
        if self.rules is not None:
            broken = self.rules(body)
            if broken is not None:
                raise SimulationError(400, "invalid_request_error", broken)
        key = _sampling_key(body)
        rng = rng_for(key if not sample else f"{key}#sample={sample}")
        structured = structured_role(body, req)
        details: dict[str, Any] | None = None
        if structured is not None:
            content, stop, out_chars = self._role(*structured, req, rng, digest)
            sequence = None
        elif any(t in req.question.lower() for t in REFUSAL_TRIGGERS):
            self._count("refusal")
            content, stop, sequence, out_chars = [], "refusal", None, 0
            details = {
                "type": "refusal",
                "category": "bio",
                "explanation": "The request could enable biological harm.",
            }
        else:
            self._count("target")
            try:
                answer = chat.reply(req, rng, digest)
            except request.RequestError as exc:
                raise SimulationError(400, "invalid_request_error", str(exc)) from None
            content, stop, sequence = answer.content, answer.stop_reason, answer.stop_sequence
            out_chars = answer.output_chars
        display = _thinks(body)
        if display is not None and stop != "refusal":
            block = _thinking_block(display, req.question, digest)
            content = [block, *content]
            out_chars += len(block["thinking"]) or 200  # omitted thinking is billed all the same
        message = {
            "id": f"msg_sim_{digest[:24]}",
            "type": "message",
            "role": "assistant",
            "model": req.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": sequence,
            "usage": self._usage(body, max(1, req.prompt_chars() // 4), max(1, out_chars // 4)),
        }
        if details is not None:
            message["stop_details"] = details
        return message

    def _usage(self, body: dict[str, Any], input_tokens: int, output_tokens: int) -> dict[str, int]:
        """Token usage; a system prompt marked `cache_control` is written once, then read.

        As the API does, the tokens up to the marked block (tools and system) leave
        `input_tokens` and count as `cache_creation_input_tokens` the first time that prefix is
        seen and as `cache_read_input_tokens` after.
        """
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        system = body.get("system")
        if not isinstance(system, list) or not any(
            isinstance(b, dict) and b.get("cache_control") for b in system
        ):
            return usage
        prefix = json.dumps([body.get("model"), body.get("tools"), system], sort_keys=True)
        cached = min(input_tokens, len(prefix) // 4)
        with self._lock:
            seen = prefix in self._prompt_cache
            self._prompt_cache.add(prefix)
        usage["input_tokens"] = input_tokens - cached
        usage["cache_read_input_tokens" if seen else "cache_creation_input_tokens"] = cached
        return usage

    def _role(
        self, tool: str, shape: str, req: Request, rng: random.Random, digest: str
    ) -> tuple[list[dict[str, Any]], str, int]:
        """A structured role's answer (judge, generators, analyst): its tool call, or with
        structured outputs (`shape` json) the JSON object as the answer's text."""
        role, handler = ROLES[tool]
        self._count(role)
        # The <data> block is in the last user turn that has one: a schema retry's last turn
        # is a tool_result carrying the validation error.
        data = next(
            (
                found
                for turn in reversed(req.turns)
                if turn.role == "user" and (found := protocol.decode_data(turn.text)) is not None
            ),
            None,
        )
        if data is None:
            raise SimulationError(
                400, "invalid_request_error", "no <data> block in the last user message"
            )
        noisy = NOISY_ROLES.get(role)
        result = noisy(data, rng, self.judge_noise) if noisy else handler(data, rng)
        if shape == "json":
            text = json.dumps(result, ensure_ascii=False)
            return [{"type": "text", "text": text}], "end_turn", len(text)
        block = {
            "type": "tool_use",
            "id": f"toolu_sim_{digest[:24]}",
            "name": tool,
            "input": result,
        }
        return [block], "tool_use", len(json.dumps(result))
