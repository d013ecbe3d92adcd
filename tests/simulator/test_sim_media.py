"""The simulator reads image headers and PDF text itself, as a model would perceive them."""

from __future__ import annotations

import struct

import pytest

from pytest_promptopt.simulator import media
from tests.simulator.simkit import b64, png


def jpeg(width: int, height: int) -> bytes:
    """A JPEG header: SOI, an APP0 segment, then a baseline start-of-frame."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp(chunk: bytes, payload: bytes) -> bytes:
    """A RIFF/WEBP file with one chunk."""
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (png(640, 480), (640, 480)),
        (b"GIF89a" + struct.pack("<HH", 320, 200) + b"\x00" * 8, (320, 200)),
        (jpeg(1024, 768), (1024, 768)),
        (webp(b"VP8 ", b"\x00" * 6 + struct.pack("<HH", 300, 150) + b"\x00" * 4), (300, 150)),
        (webp(b"VP8L", b"\x2f" + (99 | 199 << 14).to_bytes(4, "little")), (100, 200)),
        (
            webp(b"VP8X", b"\x00" * 4 + (799).to_bytes(3, "little") + (599).to_bytes(3, "little")),
            (800, 600),
        ),
        (b"not an image at all", None),
    ],
)
def test_image_dimensions_are_read_from_the_header(
    data: bytes, size: tuple[int, int] | None
) -> None:
    assert media.dimensions(data) == size


def test_pdf_text_reads_tj_arrays_and_escapes() -> None:
    stream = rb"BT [(Hel) -20 (lo)] TJ (\(draft\) total) Tj ET"
    data = b"1 0 obj << /Length 9 >> stream\n" + stream + b"\nendstream endobj"
    assert media.pdf_text(data) == "Hello (draft) total"


def test_acknowledgements_give_sizes_for_people_and_urls() -> None:
    big = media.read("document", {"source": {"type": "text", "data": "word " * 500}})
    assert "(2.5 kB)" in media.acknowledge(big)
    url = media.read("image", {"source": {"type": "url", "url": "https://example.com/cat.jpg"}})
    assert media.acknowledge(url) == "I can see the attached image at https://example.com/cat.jpg."
    broken = media.read(
        "image", {"source": {"type": "base64", "media_type": "image/gif", "data": "%%"}}
    )
    assert media.acknowledge(broken) == "I can see the attached image (GIF)."
    huge = media.read(
        "image",
        {"source": {"type": "base64", "media_type": "image/png", "data": b64(png(4000, 3000))}},
    )
    assert huge.tokens == 1600 and "4000x3000" in media.acknowledge(huge)
