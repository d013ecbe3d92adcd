"""The simulated analyst and refiner: find a prompt's weaknesses, add directives that fix them."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.judge import coverage


@dataclass
class _Group:
    """Failures that share one weakness."""

    title: str
    description: str
    directives: list[str] = field(default_factory=list)
    case_keys: list[str] = field(default_factory=list)


def _assertion_directive(failed: str) -> str | None:
    """A directive that would satisfy one failed deterministic check, e.g. `contains 'refund'`."""
    m = re.match(r"\s*(contains|icontains|not_contains|max_chars|is_json)\b\s*(.*)", failed)
    if not m:
        return None
    kind, value = m.group(1), m.group(2).strip().strip("'\"")
    if kind in ("contains", "icontains") and value:
        return f"Always mention {value}."
    if kind == "not_contains" and value:
        return f"Never say {value}."
    if kind == "max_chars":
        return "Be concise."
    if kind == "is_json" and value.lower().startswith("true"):
        return tx.JSON_DIRECTIVE
    return None


def _add(
    groups: dict[str, _Group], key: str, title: str, description: str, directive: str, case: str
) -> None:
    """File one failing case under a weakness, creating it on first use."""
    group = groups.setdefault(key, _Group(title=title, description=description))
    if directive not in group.directives:
        group.directives.append(directive)
    if case not in group.case_keys:
        group.case_keys.append(case)


def submit_analysis(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Weaknesses grouped by what the failing responses missed, with concrete directives to add."""
    groups: dict[str, _Group] = {}
    for failure in tx.records(payload, "failures"):
        key = str(failure.get("case_key") or "?")
        user = str(failure.get("input") or "")
        response = str(failure.get("response") or "")
        expected = str(failure.get("expected") or "")
        if tx.threat_kind(user) and (not tx.is_refusal(response) or tx.leaks_prompt(response)):
            _add(
                groups,
                "safety",
                "Complies with harmful or manipulative requests",
                "The prompt has no refusal rule, so injections and harmful requests are obeyed.",
                tx.SAFETY_DIRECTIVE,
                key,
            )
        if tx.oddity(user) and "clarif" in expected.lower() and not tx.asks_clarification(response):
            _add(
                groups,
                "clarify",
                "Does not ask clarifying questions on unclear input",
                "Empty, ambiguous or contradictory requests get a guess instead of a question.",
                tx.CLARIFY_DIRECTIVE,
                key,
            )
        if expected:
            cov = coverage(expected, response)
            skip = (tx.SAFETY_DIRECTIVE, tx.CLARIFY_DIRECTIVE)
            # one directive per case covering all it missed, filed under each missed clause
            lines = [
                d for d in tx.directives_for(user, "; ".join(cov.missed_clauses)) if d not in skip
            ]
            for clause in cov.missed_clauses:
                missed = [w for w in tx.content_words(clause, drop_meta=True) if w in cov.missed]
                what = ", ".join(missed) or clause
                if tx.directives_for(user, clause) and lines:
                    for line in lines:
                        _add(
                            groups,
                            tx.normalise(clause),
                            f"Misses: {what}",
                            f"Responses leave out '{clause}' ({what}).",
                            line,
                            key,
                        )
        checks = failure.get("failed_assertions")
        for failed in checks if isinstance(checks, list) else []:
            fix = _assertion_directive(str(failed))
            if fix:
                _add(
                    groups,
                    "assert:" + tx.normalise(str(failed)),
                    f"Fails check: {failed}",
                    f"The deterministic check {failed} fails.",
                    fix,
                    key,
                )
    if not groups:
        return {
            "weaknesses": [],
            "suggestions": "No clear weakness found; keep the prompt as it is.",
        }
    weaknesses = [
        {"title": g.title, "description": g.description, "case_keys": g.case_keys}
        for g in groups.values()
    ]
    lines = list(dict.fromkeys(d for g in groups.values() for d in g.directives))
    return {
        "weaknesses": weaknesses,
        "suggestions": "Add these directives to the prompt:\n" + "\n".join(f"- {d}" for d in lines),
    }


def _rejected_lines(payload: dict[str, Any], prompt: str) -> set[str]:
    """Directives that earlier rejected attempts (in `history`) added to this prompt."""
    have = {tx.normalise(s) for s in tx.sentences(prompt)}
    tried: set[str] = set()
    for attempt in tx.records(payload, "history"):
        if attempt.get("kept") is False:
            tried.update(tx.normalise(s) for s in tx.sentences(str(attempt.get("prompt") or "")))
    return tried - have


def submit_prompt(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The prompt plus each suggested directive it does not have yet.

    Suggestions come from the analyst, else from the failing examples themselves; a directive
    an earlier rejected attempt (in `history`) added is not tried again.
    """
    prompt = str(payload.get("prompt") or "").rstrip()
    have = {tx.normalise(s) for s in tx.sentences(prompt)} | _rejected_lines(payload, prompt)
    suggestions = str(payload.get("suggestions") or "")
    if not suggestions.strip() and tx.records(payload, "failures"):
        suggestions = submit_analysis(payload, rng)["suggestions"]
    candidates = tx.sentences(suggestions)
    if not candidates:
        candidates = [
            f"Make sure to avoid this weakness: {w.get('title')}."
            for w in tx.records(payload, "weaknesses")
        ]
    added: list[str] = []
    for line in candidates:
        key = tx.normalise(line)
        if (
            key
            and key not in have
            and not line.lower().startswith(("add these", "no clear weakness"))
        ):
            have.add(key)
            added.append(line)
    if not added:
        return {
            "prompt_text": prompt or "You are a helpful assistant.",
            "rationale": "No new directives were needed.",
        }
    text = (prompt + "\n" if prompt else "") + "\n".join(added)
    return {"prompt_text": text, "rationale": "Added: " + " ".join(added)}
