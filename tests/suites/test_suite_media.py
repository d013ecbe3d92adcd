"""Images and documents: the type from the bytes, the API's size limits, one read per version."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_promptopt.suites import media
from pytest_promptopt.suites.media import (
    IMAGE_MAX_ENCODED,
    MB,
    FileProblem,
    load_file,
    sniff,
)
from tests.suites.suite_files import MAGIC, FileMaker


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [
        ("png", "image/png"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
        ("pdf", "application/pdf"),
    ],
)
def test_sniff_reads_the_magic_number(kind: str, media_type: str) -> None:
    assert sniff(MAGIC[kind]) == media_type


def test_sniff_knows_gif87a_and_nothing_else() -> None:
    assert sniff(b"GIF87a....") == "image/gif"
    assert sniff(b"BM\x00\x00") is None  # bmp
    assert sniff(b"RIFF\x00\x00\x00\x00WAVE") is None  # a RIFF that is not webp
    assert sniff(b"") is None


def test_the_type_comes_from_the_bytes_not_the_name(make_file: FileMaker) -> None:
    path = make_file("really_a.jpg", "png")
    loaded = load_file(str(path), "image")
    assert loaded.media_type == "image/png"
    assert base64.b64decode(loaded.data) == MAGIC["png"]
    assert not loaded.is_text


def test_a_text_document_by_its_suffix_is_sent_as_text(make_file: FileMaker) -> None:
    for name in ("notes.txt", "README.MD"):
        loaded = load_file(str(make_file(name, "Grüße\nline two\n".encode())), "document")
        assert (loaded.media_type, loaded.data, loaded.is_text) == (
            "text/plain",
            "Grüße\nline two\n",
            True,
        )


def test_a_pdf_document_is_base64(make_file: FileMaker) -> None:
    loaded = load_file(str(make_file("spec.pdf", "pdf")), "document")
    assert loaded.media_type == "application/pdf"
    assert base64.b64decode(loaded.data) == MAGIC["pdf"]


@pytest.mark.parametrize(
    ("name", "content", "kind", "message"),
    [
        (
            "img.bmp",
            b"BM\x00\x00\x00",
            "image",
            "is not a supported image (by its first bytes); images may be png, jpeg, gif or webp",
        ),
        ("notes.txt", b"text", "image", "is not a supported image"),
        ("spec.pdf", "pdf", "image", "is a PDF; send it as `{type: document, path: ...}`"),
        ("cat.png", "png", "document", "is a png image; send it as `{type: image, path: ...}`"),
        (
            "data.csv",
            b"a,b\n",
            "document",
            "is of an unsupported type; documents may be PDF "
            "(by their first bytes) or plain text (.txt, .md files)",
        ),
        ("latin.txt", b"caf\xe9", "document", "is not UTF-8 text (byte 3); save it as UTF-8"),
    ],
)
def test_unsupported_files_are_refused(
    make_file: FileMaker, name: str, content: str | bytes, kind: Any, message: str
) -> None:
    path = make_file(name, content)
    with pytest.raises(FileProblem) as info:
        load_file(str(path), kind)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FileProblem) as info:
        load_file(str(tmp_path / "nope.png"), "image")
    assert str(info.value) == (
        f"image file {tmp_path / 'nope.png'} not found; put the file there or fix `path` "
        "(relative to the suite file)"
    )
    with pytest.raises(FileProblem, match="is not a file; point `path` at a file"):
        load_file(str(tmp_path), "document")


def test_an_image_at_the_limit_passes_and_one_byte_more_fails(make_file: FileMaker) -> None:
    at_limit = IMAGE_MAX_ENCODED * 3 // 4  # 3.75 MB of file is 5 MB of base64
    ok = load_file(str(make_file("ok.png", "png", size=at_limit)), "image")
    assert len(ok.data) == IMAGE_MAX_ENCODED
    big = make_file("big.png", "png", size=at_limit + 1)
    with pytest.raises(FileProblem) as info:
        load_file(str(big), "image")
    assert str(info.value) == (
        f"png image {big} is 3.8 MB, 5.0 MB once base64-encoded; the API takes an image up to "
        "5.0 MB encoded (about 3.8 MB of file); make it smaller"
    )


def test_oversized_pdf_and_text_are_refused_without_reading_them(
    make_file: FileMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = make_file("huge.pdf", "pdf", size=25 * MB)  # sparse: 33.3 MB once encoded
    text = make_file("huge.txt", b"x", size=33 * MB)
    reads: list[int] = []
    real_open = open

    class Counting:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def read(self, n: int = -1) -> bytes:
            data: bytes = self.fh.read(n)
            reads.append(len(data))
            return data

    monkeypatch.setattr(media, "open", lambda p, m: Counting(real_open(p, m)), raising=False)
    with pytest.raises(FileProblem, match=r"PDF .*huge.pdf is 25.0 MB, 33.3 MB once base64"):
        load_file(str(pdf), "document")
    with pytest.raises(FileProblem, match=r"huge.txt is 33.0 MB; the API takes requests up to 32"):
        load_file(str(text), "document")
    assert reads == [16, 16]  # only the first bytes of each, to learn the type


def test_a_file_is_read_once_per_version(
    make_file: FileMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_file("shared.png", "png")
    opened: list[str] = []
    real_open = open

    def counting_open(p: str, mode: str) -> Any:
        opened.append(p)
        return real_open(p, mode)

    monkeypatch.setattr(media, "open", counting_open, raising=False)
    first = [load_file(str(path), "image") for _ in range(2000)]
    assert opened == [str(path)]
    assert all(f is first[0] for f in first)
    path.write_bytes(MAGIC["png"] + b"changed")  # a new size
    os.utime(path, ns=(1, 1))
    changed = load_file(str(path), "image")
    assert base64.b64decode(changed.data).endswith(b"changed")
    assert opened == [str(path), str(path)]
    os.utime(path, ns=(2, 2))  # same size, new mtime: read again
    load_file(str(path), "image")
    assert len(opened) == 3
