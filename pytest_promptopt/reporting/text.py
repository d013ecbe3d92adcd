"""Text helpers shared by the report writers: number formats, shortening, Markdown escaping."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

DASH = "\u2014"
ARROW = "\u2192"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_WS = re.compile(r"\s+")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def fmt_score(value: float | None, digits: int = 2) -> str:
    """A score such as `0.83`, or a dash when unknown."""
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_pct(value: float | None) -> str:
    """A 0..1 ratio as a percentage such as `87.5%`."""
    return DASH if value is None else f"{value * 100:.1f}%"


def fmt_score_ci(ci: tuple[float, float] | None) -> str:
    """A score interval such as `0.78..0.89`, or '' when unknown."""
    return "" if ci is None else f"{ci[0]:.2f}..{ci[1]:.2f}"


def fmt_pct_ci(ci: tuple[float, float] | None) -> str:
    """A rate interval such as `74%..97%`, or '' when unknown."""
    return "" if ci is None else f"{ci[0]:.0%}..{ci[1]:.0%}"


def fmt_usd(value: float | None) -> str:
    """A cost in US dollars with enough digits for small amounts; None is an unknown cost."""
    if value is None:
        return "unknown"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def fmt_int(value: int | None) -> str:
    """An integer with thousands separators."""
    return DASH if value is None else f"{value:,}"


def fmt_delta(value: float | None) -> str:
    """A signed score difference such as `+0.12`."""
    return DASH if value is None else f"{value:+.2f}"


def fmt_duration(seconds: float | None) -> str:
    """A duration such as `4.2s` or `3m 05s`."""
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_time(value: datetime | None) -> str:
    """A timestamp to the second, or a dash."""
    return DASH if value is None else value.isoformat(sep=" ", timespec="seconds")


def fmt_value(value: Any) -> str:
    """A settings value as plain text (lists joined, None as a dash)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items())
    return str(value)


def shorten(text: str, limit: int) -> str:
    """Collapse whitespace and cut to `limit` characters with an ellipsis."""
    flat = _WS.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 0)].rstrip() + "\u2026"


def shorten_block(text: str, limit: int) -> str:
    """Cut multi-line text to `limit` characters, keeping line breaks, noting the full length."""
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + f"\u2026 [{len(text)} chars]"


def md_escape(text: str, limit: int | None = None) -> str:
    """Make user or model text safe inside a Markdown line or table cell.

    Whitespace (newlines included) collapses to single spaces, `&`, `<` and `>` become
    entities so no raw HTML survives, and Markdown punctuation (pipes included) is
    backslash-escaped so tables and emphasis don't break.
    """
    flat = shorten(text, limit) if limit is not None else _WS.sub(" ", text).strip()
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub-flavoured Markdown table; cells must already be escaped.

    `align` holds one letter per column: `l`, `r` or `c` (default left).
    """
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    seps = [marks.get(align[i] if i < len(align) else "l", "---") for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(seps) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def safe_name(name: str, reserved: Collection[str] = ()) -> str:
    """A file-system-safe, deterministic folder name for a suite.

    A name that had to change (or would clash with one of `reserved`, case-insensitively)
    gets a short hash of the original, so two suites never share a folder.
    """
    base = _UNSAFE_NAME.sub("_", name).strip("._")[:80] or "suite"
    if base == name and base.lower() not in {r.lower() for r in reserved}:
        return base
    return f"{base}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
