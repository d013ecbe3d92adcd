"""The README stays a front page whose commands CI runs, and every docs page is in the nav."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MAIN_JOB = (
    'python -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]" '
    "&& pytest example_project --optimize"
)
TEST_COMMAND = "python -m pytest -n 2 -p no:cacheprovider"


def test_the_readme_is_a_front_page_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    commands = [line for line in readme.splitlines() if line.startswith("python ")]
    assert commands[:2] == [MAIN_JOB, TEST_COMMAND]


def test_ci_runs_the_readmes_test_command_last() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in ci.splitlines() if line and not line.startswith(("#", " "))]
    assert steps[-1] == TEST_COMMAND


def test_every_docs_page_is_in_the_nav_and_every_readme_link_exists() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages(value)]
        return []

    in_nav = pages(config["nav"])
    assert sorted(in_nav) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
