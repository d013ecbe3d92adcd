"""A Messages API response as the server-sent events of a streamed answer (`stream: true`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

STREAM_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}
_PIECE = 64  # characters per text delta


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=False)}\n\n"


def _chunks(text: str) -> Iterator[str]:
    for start in range(0, len(text), _PIECE):
        yield text[start : start + _PIECE]


def _block_events(index: int, block: dict[str, Any]) -> Iterator[str]:
    """The start, deltas and stop of one content block."""
    kind = block.get("type")
    if kind == "text":
        yield _event(
            "content_block_start", {"index": index, "content_block": {**block, "text": ""}}
        )
        for piece in _chunks(str(block.get("text", ""))):
            delta = {"type": "text_delta", "text": piece}
            yield _event("content_block_delta", {"index": index, "delta": delta})
    elif kind == "thinking":
        start = {**block, "thinking": "", "signature": ""}
        yield _event("content_block_start", {"index": index, "content_block": start})
        for piece in _chunks(str(block.get("thinking", ""))):
            delta = {"type": "thinking_delta", "thinking": piece}
            yield _event("content_block_delta", {"index": index, "delta": delta})
        delta = {"type": "signature_delta", "signature": str(block.get("signature", ""))}
        yield _event("content_block_delta", {"index": index, "delta": delta})
    elif kind == "tool_use":
        yield _event(
            "content_block_start", {"index": index, "content_block": {**block, "input": {}}}
        )
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
        yield _event("content_block_delta", {"index": index, "delta": delta})
    else:  # a block with no deltas (redacted thinking, server tools): whole at its start
        yield _event("content_block_start", {"index": index, "content_block": block})
    yield _event("content_block_stop", {"index": index})


def sse_body(message: dict[str, Any]) -> bytes:
    """The event stream whose accumulation (the SDK's `get_final_message`) is `message`."""
    usage = dict(message.get("usage") or {})
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    start.pop("stop_details", None)
    events = [_event("message_start", {"message": start})]
    for index, block in enumerate(message.get("content") or []):
        events.extend(_block_events(index, block))
    delta: dict[str, Any] = {
        "stop_reason": message.get("stop_reason"),
        "stop_sequence": message.get("stop_sequence"),
    }
    if message.get("stop_details"):
        delta["stop_details"] = message["stop_details"]
    events.append(_event("message_delta", {"delta": delta, "usage": usage}))
    events.append(_event("message_stop", {}))
    return "".join(events).encode()
