"""A scripted fake of the Messages API: the test gives the answers and the judge's verdicts.

The fake answers what a test scripts, nothing else: the model under test's text for each
question, and the judge's level per criterion for each case. It speaks the Messages API (a
`submit_verdict` tool call, or the verdict as JSON text under structured outputs) on an httpx2
`MockTransport` or on a loopback HTTP server (`ANTHROPIC_BASE_URL`), so the code under test
uses the official SDK client as it would against the API and never knows it talks to a fake.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pytest_promptopt import protocol
from pytest_promptopt.testing.loopback import LoopbackMessagesServer, Reply, known_capabilities

if TYPE_CHECKING:
    import anthropic
    import httpx2

Content = str | Sequence[Mapping[str, Any]]
"""A scripted answer: its text, or its content blocks (a `tool_use` block, say)."""
Levels = Mapping[str, float | str | None]
"""A scripted verdict: a level 1-5 (None: does not apply) per criterion, optional `reasoning`.
A level out of range (7, say) plays a judge answering out of schema."""
Answers = Mapping[str, Content] | Callable[["ScriptedCall"], Content]
Verdicts = Mapping[str, Levels] | Callable[["ScriptedCall"], Levels]


class ScriptError(LookupError):
    """A request the script has no answer for (the fake answers it with a 400)."""


@dataclass(frozen=True)
class ScriptedCall:
    """One Messages API call the fake was sent, as its script sees it."""

    role: Literal["target", "judge"]
    model: str
    question: str
    """The target's last user text; the judged case's input for the judge."""
    sample: int = 0
    """The sample index (the `x-promptopt-sample` header; 0 without it)."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """The judge's `<data>` block: criteria, rubric, user_input, response, judge_repeat..."""
    body: Mapping[str, Any] = field(default_factory=dict)
    """The request body as sent."""

    @property
    def response(self) -> str:
        """The answer the judge is asked to score ("" for a target call)."""
        return str(self.data.get("response") or "")


def _user_texts(body: Mapping[str, Any]) -> list[str]:
    """The text of each user turn that has some, the last first (its text blocks joined)."""
    texts = []
    for message in reversed(body.get("messages") or []):
        content = message.get("content") if message.get("role") == "user" else None
        if not isinstance(content, str):
            blocks = content if isinstance(content, list) else []
            content = "\n".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        if content:
            texts.append(content)
    return texts


def _judge_schema(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(`tool` or `json`, the verdict's JSON schema) for a judge call, else None: its tool, or
    its structured-outputs schema."""
    for tool in body.get("tools") or []:
        if tool.get("name") == protocol.JUDGE_TOOL:
            return "tool", tool.get("input_schema") or {}
    form = (body.get("output_config") or {}).get("format") or {}
    schema = form.get("schema") or {}
    return ("json", schema) if schema.get("title") == protocol.VerdictInput.__name__ else None


def _message(body: Mapping[str, Any], content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    """A Messages API response body around `content`."""
    out = sum(len(json.dumps(b)) for b in content)
    return {
        "id": f"msg_scripted_{hashlib.sha256(json.dumps(body).encode()).hexdigest()[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": max(1, len(json.dumps(body)) // 4), "output_tokens": out // 4},
    }


class ScriptedModel:
    """A fake model and judge whose answers and verdicts a test scripts.

    `answers` maps a question (the last user turn's text) to the answer, or is a callable on
    the `ScriptedCall`; `verdicts` maps a case's input to its levels per criterion, or is a
    callable. A criterion the request's schema asks for and the verdict leaves out gets
    `default_level`. Every call is kept in `calls`, in order; a call the script cannot answer
    is a 400 naming what is missing.
    """

    def __init__(
        self,
        answers: Answers | None = None,
        verdicts: Verdicts | None = None,
        *,
        default_level: int | None = 5,
    ) -> None:
        self.answers: Answers = answers if answers is not None else {}
        self.verdicts: Verdicts = verdicts if verdicts is not None else {}
        self.default_level = default_level
        self.calls: list[ScriptedCall] = []
        self._lock = threading.Lock()

    def of_role(self, role: str) -> list[ScriptedCall]:
        """The calls made so far for `role` (`target` or `judge`)."""
        with self._lock:
            return [c for c in self.calls if c.role == role]

    def respond(self, method: str, path: str, raw: bytes, headers: Mapping[str, str]) -> Reply:
        """Status, headers and body for one HTTP request (the loopback server's responder)."""
        from pytest_promptopt.simulator.request import sample_of

        plain = {"content-type": "application/json", "request-id": "req_scripted"}
        route = path.split("?")[0].rstrip("/")
        if method == "GET" and route.startswith("/v1/models/"):
            model = route.removeprefix("/v1/models/")
            capabilities = known_capabilities(model)
            if capabilities is None:
                return _error(404, "not_found_error", f"model: {model}")
            info = {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2026-01-01T00:00:00Z",
                "capabilities": capabilities,
            }
            return 200, plain, json.dumps(info).encode()
        if method != "POST" or route != "/v1/messages":
            return _error(404, "not_found_error", f"{method} {path} is not scripted")
        body = json.loads(raw)
        try:
            message = self._answer(body, sample_of(headers))
        except ScriptError as exc:
            return _error(400, "invalid_request_error", str(exc))
        if body.get("stream"):
            from pytest_promptopt.simulator.stream import STREAM_HEADERS, sse_body

            return 200, {**plain, **STREAM_HEADERS}, sse_body(message)
        return 200, plain, json.dumps(message).encode()

    def _answer(self, body: dict[str, Any], sample: int) -> dict[str, Any]:
        """The scripted message for one request body."""
        judged = _judge_schema(body)
        model = str(body.get("model"))
        if judged is None:
            question = next(iter(_user_texts(body)), "")  # a tool result's turn: the one before
            call = ScriptedCall("target", model, question, sample, {}, body)
            self._keep(call)
            content = _look_up(self.answers, call, "answer")
            if isinstance(content, str):
                return _message(body, [{"type": "text", "text": content}], "end_turn")
            blocks = [dict(b) for b in content]
            uses = any(b.get("type") == "tool_use" for b in blocks)
            return _message(body, blocks, "tool_use" if uses else "end_turn")
        # A schema retry's last turn is the validation error: the data is in an earlier one.
        found = (protocol.decode_data(text) for text in _user_texts(body))
        data = next((d for d in found if d is not None), {})
        call = ScriptedCall("judge", model, str(data.get("user_input") or ""), sample, data, body)
        self._keep(call)
        shape, schema = judged
        levels = dict(_look_up(self.verdicts, call, "verdict"))
        verdict: dict[str, Any] = {"reasoning": str(levels.pop("reasoning", "Scripted verdict."))}
        for name in schema.get("properties") or {}:  # the criteria the schema asks for, in order
            if name != "reasoning":
                verdict[name] = levels.get(name, self.default_level)
        if shape == "json":
            return _message(body, [{"type": "text", "text": json.dumps(verdict)}], "end_turn")
        use = {"type": "tool_use", "id": "toolu_scripted", "name": protocol.JUDGE_TOOL}
        return _message(body, [{**use, "input": verdict}], "tool_use")

    def _keep(self, call: ScriptedCall) -> None:
        with self._lock:
            self.calls.append(call)

    @property
    def transport(self) -> httpx2.MockTransport:
        """An httpx2 mock transport that answers with this script."""
        import httpx2

        def handle(request: httpx2.Request) -> httpx2.Response:
            status, headers, body = self.respond(
                request.method, request.url.path, request.read(), dict(request.headers.items())
            )
            return httpx2.Response(status, headers=headers, content=body, request=request)

        return httpx2.MockTransport(handle)

    def client(self) -> anthropic.AsyncAnthropic:
        """An AsyncAnthropic client on `transport`."""
        import anthropic
        import httpx2

        return anthropic.AsyncAnthropic(
            api_key="sk-scripted-not-secret",
            base_url="http://scripted.invalid",
            http_client=httpx2.AsyncClient(transport=self.transport),
        )

    def serve(self, **server_options: Any) -> LoopbackMessagesServer:
        """A loopback HTTP server answering with this script (for `ANTHROPIC_BASE_URL`)."""
        return LoopbackMessagesServer(responder=self.respond, **server_options)


def _look_up(script: Any, call: ScriptedCall, what: str) -> Any:
    """The scripted entry for a call: the callable's result, or the mapping's by question."""
    if callable(script):
        return script(call)
    if call.question not in script:
        raise ScriptError(f"no scripted {what} for {call.question!r} ({call.role} call)")
    return script[call.question]


def _error(status: int, kind: str, message: str) -> Reply:
    """An API error response."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return status, {"content-type": "application/json"}, json.dumps(body).encode()
