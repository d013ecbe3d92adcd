"""Reports of the `promptopt` command line: results gathered from the database, rendered as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pytest_promptopt.records.trajectory import trajectory_lines
from pytest_promptopt.redaction import escape_control
from pytest_promptopt.reporting.text import (
    DASH,
    fmt_delta,
    fmt_duration,
    fmt_pct,
    fmt_score,
    fmt_usd,
)
from pytest_promptopt.reporting.text import shorten as _shorten
from pytest_promptopt.suites.criteria import CRITERIA

CHANGE_LABELS: dict[str, str] = {
    "regressed": "REGRESSED",
    "improved": "improved",
    "unchanged": "",
    "only_a": "only in A",
    "only_b": "only in B",
}


def shorten(text: str | None, width: int = 60) -> str:
    """Collapse whitespace and cut to `width` characters (None reads as empty)."""
    return _shorten(text or "", width)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    """Return rows as aligned columns; numbers (and blanks) are right-aligned."""
    # Control characters written out before the widths are taken, so the columns stay aligned.
    cells = [[str(h) for h in headers]] + [
        ["" if v is None else escape_control(str(v)) for v in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_looks_numeric(row[i]) for row in cells[1:]) and len(cells) > 1
        for i in range(len(headers))
    ]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if is_num else cell.ljust(width)
            for cell, width, is_num in zip(row, widths, numeric, strict=True)
        ]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def _looks_numeric(cell: str) -> bool:
    """Say whether a cell reads as a number, percentage, amount or blank."""
    stripped = cell.strip().lstrip("+-$").rstrip("%").replace(".", "", 1).replace(",", "")
    return stripped.isdigit() or cell.strip() in ("", DASH)


def when(value: datetime | str | None) -> str:
    """Format a timestamp as `YYYY-MM-DD HH:MM:SS` (UTC)."""
    if value is None:
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Turn nested settings into sorted `a.b: value` pairs."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, dict) and value:
            pairs.extend(flatten(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            pairs.append((f"{prefix}{key}", text))
    return pairs


def render_runs(runs: list[dict[str, Any]]) -> str:
    """Render the `promptopt runs` table."""
    if not runs:
        return "no runs recorded yet"
    headers = ["id", "started (UTC)", "duration", "mode", "status", "suites", "cases"]
    headers += ["pass rate", "calls", "cost"]
    rows = [
        [
            r["id"], when(r["started_at"]), fmt_duration(r["duration_s"]), r["mode"], r["status"],
            shorten(", ".join(r["suites"]), 40) or DASH, r["cases"], fmt_pct(r["pass_rate"]),
            r["calls"], fmt_usd(r["cost_usd"]),
        ]
        for r in runs
    ]  # fmt: skip
    return table(headers, rows)


def _render_prompts(suite: dict[str, Any]) -> list[str]:
    """Render the judged prompt, best prompt, lineage and the table of a suite's prompts."""
    lines: list[str] = []
    judged = suite["judged_prompt"]
    if judged is not None:
        lines.append(f"  judged prompt #{judged['id']} ({judged['stage']}): "
                     f"\"{shorten(judged['prompt_text'], 70)}\"")  # fmt: skip
    if suite["best_prompt_id"] is not None:
        chain = " -> ".join(f"#{pid}" for pid in suite["lineage"])
        lines.append(f"  best prompt #{suite['best_prompt_id']}  lineage: {chain}")
    if len(suite["prompts"]) > 1:
        rows = [
            [
                f"#{p['id']}", p["stage"], p["strategy"] or DASH, p["track_id"] or DASH,
                p["iteration"], fmt_score(p["quick_score"]), fmt_score(p["rigorous_score"]),
                fmt_score(p["average_score"]), shorten(p["prompt_text"], 40),
            ]
            for p in suite["prompts"]
        ]  # fmt: skip
        headers = ["prompt", "stage", "strategy", "track", "iter", "quick", "rigorous", "avg"]
        lines.append(table([*headers, "text"], rows, indent="  "))
    return lines


def _own_criteria(scores: dict[str, float]) -> str:
    """`tone 0.50 correct 1.00`: the scores of a suite's own criteria (not the built-ins)."""
    return " ".join(f"{k} {fmt_score(v)}" for k, v in scores.items() if k not in CRITERIA)


def render_show(data: dict[str, Any]) -> str:
    """Render `promptopt show RUN`."""
    run = data["run"]
    lines = [
        f"Run {run['id']}  mode {run['mode']}  status {run['status']}  "
        f"started {when(run['started_at'])} UTC  duration {fmt_duration(run['duration_s'])}",
        "",
        "Settings:",
    ]
    settings = flatten(data["settings"] or {})
    lines.append(table(["key", "value"], settings, indent="  ") if settings else "  (none)")
    for suite in data["suites"]:
        lines += ["", f"Suite {suite['suite']}: {suite['cases_passed']}/{len(suite['cases'])} "
                  f"cases passed, mean score {fmt_score(suite['mean_score'])}"]  # fmt: skip
        lines += _render_prompts(suite)
        rows = [
            [
                c["case_key"], fmt_score(c["score"]), "pass" if c["passed"] else "FAIL",
                fmt_score(c["functionality"]), fmt_score(c["safety"]), fmt_score(c["consistency"]),
                fmt_score(c["edge_case_handling"]), shorten(c["reasoning"], 50),
            ]
            for c in suite["cases"]
        ]  # fmt: skip
        headers = ["case", "score", "result", "func", "safety", "consist", "edge", "reasoning"]
        own = [_own_criteria(c["scores"]) for c in suite["cases"]]
        if any(own):
            headers.insert(-1, "own criteria")
            for row, text in zip(rows, own, strict=True):
                row.insert(-1, text or "-")
        if rows:
            lines.append(table(headers, rows, indent="  "))
        for c in suite["cases"]:
            if c.get("trajectory"):
                lines.append(f"  {escape_control(c['case_key'])}:")
                lines += [
                    f"    {escape_control(line)}" for line in trajectory_lines(c["trajectory"])
                ]
    if data["stages"]:
        rows = [
            [s["suite"], s["stage"], s["status"], fmt_duration(s["duration_s"])]
            for s in data["stages"]
        ]
        lines += ["", "Stages:", table(["suite", "stage", "status", "duration"], rows, "  ")]
    calls = data["calls"]
    lines += [
        "",
        f"Model calls: {calls['calls']} calls, {calls['input_tokens']} input tokens, "
        f"{calls['output_tokens']} output tokens, {fmt_usd(calls['cost_usd'])}",
    ]
    return "\n".join(lines)


def render_diff(data: dict[str, Any]) -> str:
    """Render `promptopt diff RUN_A RUN_B`."""
    lines = [f"Run A = {data['run_a']}, run B = {data['run_b']}", ""]
    if data.get("judge_note"):
        lines[1:1] = [data["judge_note"]]
    rows = [
        [
            c["suite"], c["case_key"], fmt_score(c["score_a"]), fmt_score(c["score_b"]),
            fmt_delta(c["delta"]), CHANGE_LABELS[c["change"]]
            + (" (pass->fail)" if c["pass_to_fail"] else "")
            + (" (fail->pass)" if c["fail_to_pass"] else ""),
        ]
        for c in data["cases"]
    ]  # fmt: skip
    if rows:
        lines.append(table(["suite", "case", "A", "B", "delta", "change"], rows))
    else:
        lines.append("no given cases evaluated in either run")
    if data["suites"]:
        suite_rows = [
            [s["suite"], fmt_score(s["mean_a"]), fmt_score(s["mean_b"]), fmt_delta(s["delta"])]
            for s in data["suites"]
        ]
        lines += ["", table(["suite", "mean A", "mean B", "delta"], suite_rows)]
        lines += [""] + [
            verdict_line(s["suite"], s["comparison"]) for s in data["suites"] if "comparison" in s
        ]
    counts = data["summary"]
    lines += [
        "",
        f"improved {counts['improved']}, regressed {counts['regressed']}, "
        f"unchanged {counts['unchanged']}, only in A {counts['only_a']}, "
        f"only in B {counts['only_b']}",
    ]
    return "\n".join(lines)


def verdict_line(suite: str, comparison: dict[str, Any]) -> str:
    """`suite: regressed: 12 shared cases, ...` and the cases that went from pass to fail."""
    c = comparison
    ci = c["delta_ci"]
    interval = f" (95% CI {ci[0]:+.3f} .. {ci[1]:+.3f})" if ci else ""
    why = f" ({c['reason']})" if c.get("reason") else ""
    mdc = c.get("min_detectable_change")
    power = f"; detectable change {mdc:.3f} (80% power)" if mdc is not None else ""
    clusters = c.get("clusters")
    flip_test = "McNemar p" if not clusters else "cluster flip test p"
    if clusters:
        effect = clusters.get("design_effect")
        power += f"; {clusters['clusters']} clusters of {clusters['cases']} cases" + (
            f", design effect {effect:.2f}" if effect is not None else ""
        )
    line = (
        f"{suite}: {c['verdict'].upper()}{why}: {c['n_shared']} shared cases, change "
        f"{c['mean_delta']:+.3f}{interval}, margin {c['margin']}; pass->fail "
        f"{c['pass_to_fail']}, fail->pass {c['fail_to_pass']}, {flip_test}={c['mcnemar_p']:.3g}"
        f"{power}"
    )
    if c["pass_to_fail_cases"]:
        line += "\n    pass->fail: " + ", ".join(c["pass_to_fail_cases"])
    return line
