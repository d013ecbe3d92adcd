"""Helpers of the simulator tests: a call through the real SDK, and small binary files."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from typing import Any

import anthropic

from pytest_promptopt.testing import simulated_client

WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather forecast for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
}
SHOP = "You are a support assistant for Northwind, an online shop."


def create(**kwargs: Any) -> anthropic.types.Message:
    """One messages.create call through the real SDK and the simulator transport."""
    kwargs.setdefault("model", "simulated")
    kwargs.setdefault("max_tokens", 1024)

    async def go() -> anthropic.types.Message:
        return await simulated_client().messages.create(**kwargs)

    return asyncio.run(go())


def raw(**kwargs: Any) -> bytes:
    """The response bytes of one call, from a fresh client."""
    kwargs.setdefault("model", "simulated")
    kwargs.setdefault("max_tokens", 1024)

    async def go() -> bytes:
        response = await simulated_client().messages.with_raw_response.create(**kwargs)
        return response.http_response.content

    return asyncio.run(go())


def text(message: anthropic.types.Message) -> str:
    """The text blocks of an answer joined."""
    return "".join(b.text for b in message.content if b.type == "text")


def user(content: Any) -> dict[str, Any]:
    """A user message."""
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    """An assistant message."""
    return {"role": "assistant", "content": content}


def png(width: int, height: int) -> bytes:
    """A valid black RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        """One PNG chunk: length, type, data, CRC."""
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x00" * width * 3 for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(rows)),
            chunk(b"IEND", b""),
        ]
    )


def pdf(line: str, *, compress: bool = False) -> bytes:
    """A one-page PDF showing one line of text, its content stream plain or Flate-compressed."""
    content = f"BT /F1 12 Tf 72 712 Td ({line}) Tj ET".encode()
    body = zlib.compress(content) if compress else content
    flate = b" /Filter /FlateDecode" if compress else b""
    return b"".join(
        [
            b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n",
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n",
            b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n",
            b"4 0 obj << /Length %d%s >> stream\n" % (len(body), flate),
            body,
            b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        ]
    )


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode()
