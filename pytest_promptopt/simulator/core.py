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
from pytest_promptopt.simulator import analyst, generator, judge, target
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


def _text_of(content: Any) -> str:
    """The text of a message's content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def _forced_tool(body: dict[str, Any]) -> str | None:
    """The tool the request forces, if any."""
    choice = body.get("tool_choice") or {}
    tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    if choice.get("type") == "tool":
        return str(choice.get("name"))
    if choice.get("type") == "any" and len(tools) == 1:
        return str(tools[0])
    return None


class Simulator:
    """The request handler behind every transport: parse, dispatch by role, build the response."""

    def __init__(self, *, fail_judge_schema_every: int | None = None) -> None:
        self.fail_judge_schema_every = fail_judge_schema_every
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, role: str) -> int:
        with self._lock:
            self.calls[role] += 1
            return self.calls[role]

    def respond(self, method: str, path: str, raw: bytes) -> Reply:
        """Status, headers and body for one HTTP request."""
        digest = hashlib.sha256(raw).hexdigest()
        headers = {"content-type": "application/json", "request-id": f"req_sim_{digest[:24]}"}
        try:
            if method != "POST" or path.rstrip("/") != "/v1/messages":
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

    def _message(self, raw: bytes, digest: str) -> dict[str, Any]:
        """The Messages API response body for one request body."""
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SimulationError(400, "invalid_request_error", "body is not JSON") from None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            raise SimulationError(
                400, "invalid_request_error", "messages: at least one message required"
            )
        system = body.get("system") or ""
        system_text = _text_of(system)
        prompt_text = system_text + "".join(_text_of(m.get("content")) for m in messages)
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
        user_text = _text_of(last_user.get("content"))
        rng = rng_for(raw)
        tool = _forced_tool(body)
        model = str(body.get("model") or "simulated")
        base = {
            "id": f"msg_sim_{digest[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
        }
        if tool is None:
            self._count("target")
            temp = body.get("temperature")
            temperature = float(temp) if isinstance(temp, (int, float)) else 1.0
            text = target.answer(system_text, user_text, rng, temperature)
            stop = "end_turn"
            limit = int(body.get("max_tokens") or 4096) * 4
            if len(text) > limit:
                text, stop = text[:limit], "max_tokens"
            content: dict[str, Any] = {"type": "text", "text": text}
            out_chars = len(text)
        else:
            if tool not in ROLES:
                raise SimulationError(
                    400, "invalid_request_error", f"the simulator has no tool {tool!r}"
                )
            role, handler = ROLES[tool]
            n = self._count(role)
            data = protocol.decode_data(user_text)
            if data is None:
                raise SimulationError(
                    400, "invalid_request_error", "no <data> block in the last user message"
                )
            result = handler(data, rng)
            every = self.fail_judge_schema_every
            if role == "judge" and every and n % every == 0:
                result = {**result, "functionality": 7.0}  # deliberately out of range
            content = {
                "type": "tool_use",
                "id": f"toolu_sim_{digest[:24]}",
                "name": tool,
                "input": result,
            }
            stop = "tool_use"
            out_chars = len(json.dumps(result))
        usage = {
            "input_tokens": max(1, len(prompt_text) // 4),
            "output_tokens": max(1, out_chars // 4),
        }
        return {
            **base,
            "content": [content],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
