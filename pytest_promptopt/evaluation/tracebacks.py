"""The traceback of an exception in the team's own code, without the plugin's frames."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import traceback
from pathlib import Path

import pytest_promptopt

_HIDDEN = tuple(
    str(Path(m.__file__).resolve().parent) + os.sep
    for m in (pytest_promptopt, asyncio, concurrent.futures)
    if m.__file__
)
_HIDDEN_FILES = {"<frozen runpy>", getattr(contextvars, "__file__", "")}


def _theirs(filename: str) -> bool:
    """True for a frame of the team's code (not the plugin's, asyncio's or the thread pool's)."""
    if filename in _HIDDEN_FILES:
        return False
    resolved = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return not resolved.startswith(_HIDDEN)


def user_traceback(exc: BaseException) -> str:
    """`Traceback (most recent call last):` with only the frames of the team's code, then the
    exception itself, as Python prints it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _theirs(f.filename)]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip("\n")
