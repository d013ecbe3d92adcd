"""docs/benchmarks.md is the rendering of the committed results files, never typed by hand."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_docs", ROOT / "benchmarks" / "render_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_page_is_the_rendering_of_the_committed_results() -> None:
    render_docs = _renderer()
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert page == render_docs.render(render_docs.load()), (
        "docs/benchmarks.md differs from its rendering: run python benchmarks/render_docs.py"
    )
    assert render_docs.main(["--check"]) == 0


def test_a_figure_in_a_results_file_reaches_the_page(tmp_path: Path) -> None:
    render_docs = _renderer()
    for name in render_docs.RESULTS.values():
        if (ROOT / "benchmarks" / name).exists():
            shutil.copy(ROOT / "benchmarks" / name, tmp_path / name)
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    results["benchmarks"][0]["ratio"] = 9.8765
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    page = render_docs.render(render_docs.load(tmp_path))
    assert "| 9.88 |" in page
    assert page != (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")


def test_a_missing_results_file_renders_as_the_command_that_makes_it(tmp_path: Path) -> None:
    render_docs = _renderer()
    page = render_docs.render(render_docs.load(tmp_path))
    assert "No results file: run `python benchmarks/run.py`" in page
    assert "`python benchmarks/xdist_bench.py --output" in page
