"""Fixtures of the reliability tests: figures collected over the session, subprocess runs."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.reliability import FIGURES


@pytest.fixture(scope="session", autouse=True)
def figures() -> Iterator[Counter[str]]:
    """Figures (faults injected/survived, kills/resumes, fuzz examples) written at session end."""
    yield FIGURES
    out = Path(os.environ.get("PROMPTOPT_FIGURES", Path(tempfile.gettempdir()) / "figures.json"))
    try:
        out.write_text(json.dumps(dict(sorted(FIGURES.items())), indent=2))
    except OSError:
        out = Path("<unwritable>")
    summary = ", ".join(f"{k}={v}" for k, v in sorted(FIGURES.items()))
    print(f"\nreliability figures ({out}): {summary}")
