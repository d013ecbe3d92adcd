"""Regenerate the sample `--optimize` output of docs/optimize.md from a real example-project run.

Copies `example_project` to a temporary folder (a fresh database: no cache hits), runs
`pytest --optimize --promptopt-apply` on the simulator, takes the `promptopt` section of the
terminal and rewrites the block of docs/optimize.md between the markers

    <!-- optimize-sample:start -->
    <!-- optimize-sample:end -->

with what that run printed for `bank_guard` and `support_bot` (the apply outcomes, the spend,
then their suite blocks). `--check` exits 1 when the page differs instead of writing it.

    python benchmarks/optimize_sample.py [--check]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from render_docs import write_or_check

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "optimize.md"
START, END = "<!-- optimize-sample:start -->", "<!-- optimize-sample:end -->"
SUITES = ("bank_guard", "support_bot")
PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider")
SHOWN_OF_LAST = 2  # lines of the last suite's block shown before "..."


def run_example() -> list[str]:
    """The terminal lines of `pytest --optimize --promptopt-apply` on a fresh example copy."""
    with tempfile.TemporaryDirectory(prefix="promptopt-sample-") as tmp:
        project = Path(tmp) / "example_project"
        shutil.copytree(
            ROOT / "example_project",
            project,
            ignore=shutil.ignore_patterns(".promptopt", "__pycache__"),
        )
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PROMPTOPT_"))
        }
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--optimize",
                "--promptopt-apply",
                "-q",
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the example run failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        return done.stdout.replace(str(project), "example_project").splitlines()


def sample(lines: list[str]) -> list[str]:
    """The sample: the apply outcomes and spend, then each shown suite's block."""
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ promptopt =+$", line))
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("===") or line.startswith("reports: "):
            break
        section.append(line)
    head = [
        line
        for line in section
        if line.startswith("spend: ")
        or any(line.startswith((f"applied: {s}:", f"not applied: {s}:")) for s in SUITES)
    ]
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in section:
        name = line.split(":", 1)[0]
        if not line.startswith(" ") and name in SUITES and re.match(rf"^{name}: \d+ case", line):
            current = blocks.setdefault(name, [])
        elif not line.startswith(" "):
            current = None
        if current is not None:
            current.append(line)
    body = list(head)
    for n, name in enumerate(SUITES):
        block = blocks.get(name, [])
        if n == len(SUITES) - 1 and len(block) > SHOWN_OF_LAST:
            block = [*block[:SHOWN_OF_LAST], "    ..."]
        body += block
    return body


def rewrite(page: str, body: list[str]) -> str:
    """The page with the block between the markers replaced by `body` in a code fence."""
    if START not in page or END not in page:
        raise SystemExit(f"{PAGE} has no {START} ... {END} block")
    before, rest = page.split(START, 1)
    _, after = rest.split(END, 1)
    return before + START + "\n```\n" + "\n".join(body) + "\n```\n" + END + after


def main() -> int:
    """Run the example and write (or, with --check, compare) the page's sample."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs")
    args = parser.parse_args()
    updated = rewrite(PAGE.read_text(encoding="utf-8"), sample(run_example()))
    return write_or_check(PAGE, updated, check=args.check, how="benchmarks/optimize_sample.py")


if __name__ == "__main__":
    raise SystemExit(main())
