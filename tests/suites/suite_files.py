"""Tiny files whose first bytes announce their type, for the suites-layer tests."""

from __future__ import annotations

from pathlib import Path

MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "gif": b"GIF89a\x01\x00\x01\x00",
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
}


class FileMaker:
    """Writes files under one directory; `size` makes a sparse file of that length."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, name: str, content: str | bytes, size: int | None = None) -> Path:
        """A file `name` holding MAGIC[content] (or the bytes given), padded to `size`."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            fh.write(MAGIC[content] if isinstance(content, str) else content)
            if size is not None:
                fh.truncate(size)
        return path
