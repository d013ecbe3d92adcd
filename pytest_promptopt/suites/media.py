"""Images and documents of suites: type from the bytes, the API's size limits, read once."""

from __future__ import annotations

import base64
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_promptopt.errors import SuiteError
from pytest_promptopt.suites.confine import has_nul, is_virtual

FileKind = Literal["image", "document"]
MB = 1024 * 1024
IMAGE_MAX_ENCODED = 5 * MB
"""The API refuses an image whose base64 text is longer than 5 MB (about 3.75 MB of file)."""
REQUEST_MAX = 32 * MB
"""The API's request size limit, which bounds a PDF (base64) or a text document."""
TEXT_SUFFIXES = (".txt", ".md")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_HEAD = 16


class FileProblem(SuiteError):
    """An image or document file is missing, of an unsupported type or over the API's limits."""


@dataclass(frozen=True)
class FileContent:
    """A file as the API takes it: base64 data (images, PDF) or the text (text documents)."""

    media_type: str
    data: str

    @property
    def is_text(self) -> bool:
        """True for a plain text document (sent as text, not base64)."""
        return self.media_type == "text/plain"


def sniff(head: bytes) -> str | None:
    """The media type the file's first bytes announce (png, jpeg, gif, webp, pdf), else None."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _mb(n: int) -> str:
    """A byte count in MB, e.g. `3.8 MB`."""
    return f"{n / MB:.1f} MB"


def absolute(path: str) -> str:
    """`path` made absolute (a relative one against the current directory)."""
    return os.path.abspath(path)


def load_file(path: str, kind: FileKind) -> FileContent:
    """The file at `path` (absolute) as an image or document; cached by path, mtime and size.

    Symlinks are followed first: a file on /proc, /sys or /dev (`/proc/self/environ` is a
    "regular file" of size 0) is refused, as is anything but a regular file.
    """
    if has_nul(path):
        raise FileProblem(f"{kind} path {path!r} holds a NUL byte, which no file name can")
    try:
        path = os.path.realpath(path, strict=True)
        info = os.stat(path)
    except FileNotFoundError:
        raise FileProblem(
            f"{kind} file {path} not found; put the file there or fix `path` "
            "(relative to the suite file)"
        ) from None
    except (OSError, ValueError) as exc:
        raise FileProblem(f"cannot read {kind} file {path}: {exc}") from None
    if is_virtual(Path(path)):
        raise FileProblem(f"{kind} path resolves to {path}, a kernel file; point `path` at a file")
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem(f"{kind} path {path} is not a file; point `path` at a file")
    return _load(path, info.st_mtime_ns, info.st_size, kind)


@functools.lru_cache(maxsize=256)
def _load(path: str, mtime_ns: int, size: int, kind: FileKind) -> FileContent:
    """Read, type and encode one version of a file (the key changes when the file does)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
            media_type = _media_type(path, head, kind)
            _check_size(path, size, media_type)
            raw = head + fh.read()
    except OSError as exc:
        raise FileProblem(f"cannot read {kind} file {path}: {exc.strerror or exc}") from None
    if media_type == "text/plain":
        try:
            return FileContent(media_type, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"document {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
    return FileContent(media_type, base64.b64encode(raw).decode("ascii"))


def _media_type(path: str, head: bytes, kind: FileKind) -> str:
    """The media type, checked against what a block of `kind` may carry."""
    found = sniff(head)
    if kind == "image":
        if found in IMAGE_TYPES:
            return found
        if found is not None:
            raise FileProblem(
                f"image file {path} is a {_label(found)}; send it as "
                f"`{{type: document, path: ...}}`, or point `path` at a png, jpeg, gif or webp"
            )
        raise FileProblem(
            f"image file {path} is not a supported image (by its first bytes); "
            "images may be png, jpeg, gif or webp"
        )
    if found is None and path.lower().endswith(TEXT_SUFFIXES):
        return "text/plain"
    if found == "application/pdf":
        return found
    if found is not None:
        raise FileProblem(
            f"document file {path} is a {_label(found)}; send it as `{{type: image, path: ...}}`"
        )
    raise FileProblem(
        f"document file {path} is of an unsupported type; documents may be PDF "
        f"(by their first bytes) or plain text ({', '.join(TEXT_SUFFIXES)} files)"
    )


def _label(media_type: str) -> str:
    """`PDF` or `png image`, for messages."""
    return "PDF" if media_type == "application/pdf" else f"{media_type.split('/')[1]} image"


def _check_size(path: str, size: int, media_type: str) -> None:
    """Refuse a file the API would refuse for its size, before reading it whole."""
    if media_type == "text/plain":
        if size > REQUEST_MAX:
            raise FileProblem(
                f"document {path} is {_mb(size)}; the API takes requests up to {_mb(REQUEST_MAX)}"
                "; shorten it or split it over several cases"
            )
        return
    encoded = 4 * ((size + 2) // 3)
    limit = IMAGE_MAX_ENCODED if media_type in IMAGE_TYPES else REQUEST_MAX
    if encoded > limit:
        what = "an image" if media_type in IMAGE_TYPES else "a PDF"
        raise FileProblem(
            f"{_label(media_type)} {path} is {_mb(size)}, {_mb(encoded)} once base64-encoded; "
            f"the API takes {what} up to {_mb(limit)} encoded (about {_mb(limit * 3 // 4)} of "
            "file); make it smaller"
        )
