"""The real SDK over HTTP sends v2 requests exactly as the Messages API documents them.

A loopback server records the raw JSON bodies: content blocks (base64 image and PDF, a plain
text document, tool_use and tool_result), tools, tool_choice and params.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_promptopt.protocol import JUDGE_TOOL
from pytest_promptopt.testing import LoopbackMessagesServer
from tests.support.llm import LOOKUP
from tests.support.plugin import write_suite

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
NOTES = "Returns are accepted within 30 days.\n"
SUITE = """
name: wire
prompt: "You are a support assistant for {{ shop }}. When a customer asks about an order, use lookup_order to find it."
vars: {shop: Northwind}
params:
  max_tokens: 400
  stop_sequences: ["</answer>"]
  metadata: {user_id: team-a}
  extra_body: {temperature: 0.0}
tools:
  - name: lookup_order
    description: Find an order by its number
    input_schema: {type: object, properties: {order: {type: string}}, required: [order]}
tool_choice: {type: tool, name: lookup_order}
cases:
  - id: files
    messages:
      - role: user
        content:
          - {type: text, text: "Order A-1 arrived like this:"}
          - {type: image, path: media/photo.png}
          - {type: document, path: media/invoice.pdf}
          - {type: document, path: media/notes.txt}
    judge: false
    assert: [{tool_called: lookup_order}]
  - id: tool-result
    messages:
      - {role: user, content: "Where is order A-2?"}
      - role: assistant
        content:
          - {type: tool_use, id: toolu_01, name: lookup_order, input: {order: A-2}}
      - role: user
        content:
          - {type: tool_result, tool_use_id: toolu_01, content: "Shipped on Monday"}
    judge: false
    assert: [{tool_called: lookup_order}]
"""  # noqa: E501
SYSTEM = (
    "You are a support assistant for Northwind. "
    "When a customer asks about an order, use lookup_order to find it."
)


class RecordingServer(LoopbackMessagesServer):
    """The loopback server, keeping every request body it received."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    def handle(self, request: Any) -> None:
        """Record the body, then answer it with the simulator."""
        raw = request.read_body()
        with self._lock:
            self.bodies.append(json.loads(raw))
        request.answer(*self.simulator.respond(request.command, request.path.split("?")[0], raw))


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as srv:
        yield srv


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode("ascii")


def test_the_wire_format_of_content_blocks_tools_and_params(
    pytester: pytest.Pytester, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = pytester.path / "media"
    media.mkdir()
    (media / "photo.png").write_bytes(PNG)
    (media / "invoice.pdf").write_bytes(PDF)
    (media / "notes.txt").write_text(NOTES)
    write_suite(pytester, "wire", SUITE)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-key")
    result = pytester.runpytest("-p", "no:cacheprovider", "--promptopt-model=claude-haiku-4-5")
    result.assert_outcomes(passed=2)
    targets = [b for b in server.bodies if (b.get("tool_choice") or {}).get("name") != JUDGE_TOOL]
    assert len(targets) == len(server.bodies) == 2
    common = {
        "model": "claude-haiku-4-5",
        "max_tokens": 400,
        "system": SYSTEM,
        "stop_sequences": ["</answer>"],
        "metadata": {"user_id": "team-a"},
        "temperature": 0.0,  # from extra_body, merged into the body by the SDK
        "tools": [LOOKUP],
        "tool_choice": {"type": "tool", "name": "lookup_order"},
    }
    files, tool_result = sorted(targets, key=lambda b: len(b["messages"]))
    assert files == {
        **common,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Order A-1 arrived like this:"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": b64(PDF),
                        },
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": NOTES},
                    },
                ],
            }
        ],
    }
    assert tool_result == {
        **common,
        "messages": [
            {"role": "user", "content": "Where is order A-2?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "lookup_order",
                        "input": {"order": "A-2"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": "Shipped on Monday",
                    }
                ],
            },
        ],
    }
