"""Image and document blocks: what they are, how big, what a document says, how to mention it."""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from pytest_promptopt.simulator import text as tx

_IMAGE_TOKENS_MAX = 1600  # the API scales images down to about 1.15 megapixels
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_SHOWN = re.compile(rb"\[((?:[^\]\\]|\\.)*)\]\s*TJ|\(((?:[^)\\]|\\.)*)\)\s*(?:Tj|'|\")", re.S)
_STRING = re.compile(rb"\(((?:[^)\\]|\\.)*)\)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"(": b"(", b")": b")", b"\\": b"\\"}


@dataclass(frozen=True)
class Attachment:
    """An image or document block as the simulated model perceives it."""

    kind: str  # image | document
    media_type: str = ""
    size: int | None = None  # decoded bytes, when sent base64
    dimensions: tuple[int, int] | None = None
    pages: int | None = None
    text: str = ""  # a document's text, when it has one the simulator can read
    title: str = ""
    url: str = ""

    @property
    def tokens(self) -> int:
        """Input tokens the attachment costs (images: width x height / 750, capped)."""
        if self.kind == "image":
            if self.dimensions is None:
                return _IMAGE_TOKENS_MAX
            w, h = self.dimensions
            return max(1, min(_IMAGE_TOKENS_MAX, w * h // 750))
        return max(1, len(self.text) // 4, (self.pages or 0) * 1500)


def _decode(data: Any) -> bytes | None:
    """The bytes of a base64 string, or None when it is not valid base64."""
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG, GIF, JPEG or WebP header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:4] == b"GIF8" and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 25:
        chunk = data[12:16]
        if chunk == b"VP8 " and len(data) >= 30:
            w, h = struct.unpack("<HH", data[26:30])
            return int(w) & 0x3FFF, int(h) & 0x3FFF
        if chunk == b"VP8L":
            b = data[21:25]
            return 1 + (b[0] | (b[1] & 0x3F) << 8), 1 + (b[1] >> 6 | b[2] << 2 | (b[3] & 0xF) << 10)
        if chunk == b"VP8X" and len(data) >= 30:
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(
                data[27:30], "little"
            )
    if data[:2] == b"\xff\xd8":
        return _jpeg_dimensions(data)
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment."""
    i = 2
    while i + 9 < len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def _unescape(raw: bytes) -> bytes:
    """A PDF literal string's bytes with its backslash escapes resolved."""
    return re.sub(rb"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw, flags=re.S)


def pdf_text(data: bytes) -> str:
    """The text a PDF shows with Tj/TJ operators in its (plain or Flate) content streams."""
    shown: list[str] = []
    for match in _STREAM.finditer(data):
        end = data.find(b"endstream", match.end())
        if end < 0:
            break
        body = data[match.end() : end]
        if (
            b"/FlateDecode"
            in data[max(0, match.start() - 300) : match.start()].rsplit(b"obj", 1)[-1]
        ):
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        for m in _SHOWN.finditer(body):
            pieces = _STRING.findall(m.group(1)) if m.group(1) is not None else [m.group(2)]
            shown.append(b"".join(_unescape(p) for p in pieces).decode("latin-1"))
    return re.sub(r"\s+", " ", " ".join(shown)).strip()


def read(kind: str, block: dict[str, Any]) -> Attachment:
    """The Attachment of one image or document block (any source type)."""
    given = block.get("source")
    source: dict[str, Any] = given if isinstance(given, dict) else {}
    title = str(block.get("title") or "")
    media_type = str(source.get("media_type") or "")
    stype = source.get("type")
    if stype == "base64":
        data = _decode(source.get("data"))
        size = len(data) if data is not None else None
        if kind == "image":
            dims = dimensions(data) if data else None
            return Attachment(kind, media_type, size, dimensions=dims, title=title)
        if data is not None and media_type == "application/pdf":
            pages = len(re.findall(rb"/Type\s*/Page\b", data)) or None
            return Attachment(kind, media_type, size, pages=pages, text=pdf_text(data), title=title)
        text = data.decode("utf-8", "replace") if data is not None else ""
        return Attachment(kind, media_type, size, text=text, title=title)
    if stype == "text":
        text = str(source.get("data") or "")
        return Attachment(
            kind, media_type or "text/plain", len(text.encode()), text=text, title=title
        )
    if stype == "content":
        text = tx.text_of(source.get("content"))
        return Attachment(kind, "text/plain", len(text.encode()), text=text, title=title)
    return Attachment(kind, media_type, url=str(source.get("url") or ""), title=title)


def _size(n: int) -> str:
    """A byte count for people: `512 bytes`, `2.1 kB`, `3.4 MB`."""
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def first_words(text: str, count: int = 12) -> str:
    """The first words of a text, with an ellipsis when there are more."""
    tokens = text.split()
    head = " ".join(tokens[:count])
    return head + ("..." if len(tokens) > count else "")


def acknowledge(att: Attachment) -> str:
    """One sentence saying the attachment was received and what it is."""
    fmt = att.media_type.rpartition("/")[2].upper()
    facts = [fmt if att.kind == "image" else ""]
    if att.dimensions:
        facts.append(f"{att.dimensions[0]}x{att.dimensions[1]}")
    if att.pages:
        facts.append(f"{att.pages} page{'s' if att.pages > 1 else ''}")
    if att.size is not None:
        facts.append(_size(att.size))
    detail = ", ".join(f for f in facts if f)
    detail = f" ({detail})" if detail else ""
    title = f' "{att.title}"' if att.title else ""
    if att.kind == "image":
        where = f" at {att.url}" if att.url else ""
        return f"I can see the attached image{title}{where}{detail}."
    label = "PDF document" if fmt == "PDF" else "document" if att.url else "text document"
    said = f"I have read the attached {label}{title}{detail}"
    if att.text.strip():
        return f'{said}, which begins: "{first_words(att.text)}".'
    return f"{said}."


_DOC_WORDS = tx.wordset("document doc file attach attached attachment pdf page read say says text")


def passage(att: Attachment, question: str) -> str | None:
    """The document sentence that best answers a question, or None when none relates to it."""
    want = tx.stems(question, drop_meta=True) - {tx.stem(w) for w in _DOC_WORDS}
    best, score = None, 0
    for sentence in tx.sentences(att.text):
        hits = len(want & tx.stems(sentence))
        if hits > score:
            best, score = sentence, hits
    return best
