"""Fixtures of the suites-layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites.suite_files import FileMaker


@pytest.fixture
def make_file(tmp_path: Path) -> FileMaker:
    """A FileMaker writing under tmp_path."""
    return FileMaker(tmp_path)
