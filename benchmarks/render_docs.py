"""Render docs/benchmarks.md from the benchmark results files, so no figure there is typed.

    python benchmarks/render_docs.py            # rewrite docs/benchmarks.md
    python benchmarks/render_docs.py --check    # exit 1 when the page differs from a rendering

Reads the JSON files the scripts write (`run.py`: results.json, `promptfoo_bench.py`,
`optimizer_bench.py`, `baseline_gate_bench.py`, `pairwise_bench.py`, `optimize_bench.py`,
`xdist_bench.py` and `cluster_bench.py` with `--output`) and renders
`benchmarks/benchmarks.md.j2`. A missing file renders as the command that makes it. A test
keeps the committed page equal to the rendering of the committed files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).resolve().parent
PAGE = HERE.parent / "docs" / "benchmarks.md"
TEMPLATE = "benchmarks.md.j2"
RESULTS = {
    "run": "results.json",
    "promptfoo": "promptfoo_results.json",
    "optimizer": "optimizer_results.json",
    "gate": "baseline_gate_results.json",
    "pairwise": "pairwise_results.json",
    "memory": "optimize_results.json",
    "xdist": "xdist_results.json",
    "clusters": "cluster_results.json",
}


def load(folder: Path = HERE) -> dict[str, Any]:
    """Every results file of `folder` by its key in RESULTS; None for a file not there."""
    found: dict[str, Any] = {}
    for key, name in RESULTS.items():
        path = folder / name
        found[key] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return found


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}".replace(".0%", "%")


def _signed(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def render(results: dict[str, Any]) -> str:
    """The page for these results."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=_pct, signed=_signed, median=_median)
    return env.get_template(TEMPLATE).render(files=RESULTS, **results)


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with --check compare it; exit 1 when it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs")
    args = parser.parse_args(argv)
    return write_or_check(PAGE, render(load()), check=args.check, how="benchmarks/render_docs.py")


def write_or_check(page: Path, content: str, *, check: bool, how: str) -> int:
    """Write `content` to `page`, or with `check` only compare: 1 when the page is stale."""
    if check:
        if page.read_text(encoding="utf-8") != content:
            print(f"{page} is stale: run python {how}")
            return 1
        return 0
    page.write_text(content, encoding="utf-8")
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
