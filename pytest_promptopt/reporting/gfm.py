"""Untrusted text made inert in a GitHub comment, and a comment kept under GitHub's size limit.

`gfm_text` is `md_escape` (no raw HTML, Markdown punctuation escaped, one line, shortened)
plus what only GitHub turns into actions: `@name` (a mention pings that person or team),
`#123` and `owner/repo#123` (a cross-reference posts a back-link in that issue) and bare URLs
(autolinked). A zero-width space after `@`, `#` and `:` (as `&#8203;`) keeps the text as it
reads while GitHub no longer recognises it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from pytest_promptopt.reporting.text import md_escape

COMMENT_LIMIT = 65_536
"""GitHub refuses an issue comment longer than this (characters)."""
ZWSP = "&#8203;"

_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
_REFERENCE = re.compile(r"#(?=\d)")
_SCHEME = re.compile(r"(?i)(?<=[a-z])://")
_WWW = re.compile(r"(?i)\bwww\.")


def gfm_text(text: str, limit: int | None = None) -> str:
    """`text` safe in a GitHub comment line or table cell: no markup, no mention, no link."""
    safe = _REFERENCE.sub("#" + ZWSP, md_escape(text, limit))  # first: ZWSP holds a `#`
    safe = _MENTION.sub("@" + ZWSP, safe)
    safe = _SCHEME.sub(":" + ZWSP + "//", safe)
    return _WWW.sub(lambda m: m.group(0)[:3] + ZWSP + ".", safe)


def link(text: str, url: str | None) -> str:
    """A Markdown link whose text is already escaped; the text alone without a URL."""
    return f"[{text}]({url})" if url else text


def join_url(base: str, path: str) -> str:
    """`base` (an http(s) URL) followed by `path`; characters that would end a Markdown link
    (spaces, parentheses, angle brackets) percent-encoded."""
    return quote(base.rstrip("/") + path, safe=":/?&=%#+,;@!$'*~._-")


def checked_base(url: str | None, option: str) -> str | None:
    """An http(s) URL given on the command line, or a ValueError naming the option."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{option} {url!r}: expected an http:// or https:// URL")
    return url


class Budget:
    """Blocks of a comment added while they fit in `limit` characters; the first that does not
    fit is replaced by a note saying what was cut (room for it and the closing tags is kept)."""

    NOTE = (
        "\n_\u2026 cut here to stay under GitHub's {limit:,}-character comment limit: "
        "{cut} more {what}; the run's report has everything._"
    )

    def __init__(self, limit: int = COMMENT_LIMIT, reserve: int = 600) -> None:
        self.limit = limit - reserve
        self.parts: list[str] = []
        self.used = 0
        self.cut = 0
        self.cut_what = "lines"
        self._note_at: int | None = None

    def add(self, text: str, what: str = "lines") -> bool:
        """Add `text` when it fits (True); once one did not fit, every later one is cut."""
        if self._note_at is None and self.used + len(text) + 1 <= self.limit:
            self.parts.append(text)
            self.used += len(text) + 1
            return True
        if self._note_at is None:
            self._note_at = len(self.parts)
            self.parts.append("")
            self.cut_what = what
        self.cut += 1
        return False

    def close(self, text: str) -> None:
        """Add a closing block (`</details>`) whatever was cut: the reserve holds it."""
        self.parts.append(text)

    def text(self) -> str:
        """The comment: every block that fit, the note where the first was cut."""
        parts = list(self.parts)
        if self._note_at is not None:
            parts[self._note_at] = self.NOTE.format(
                limit=COMMENT_LIMIT, cut=self.cut, what=self.cut_what
            )
        return "\n".join(parts) + "\n"
