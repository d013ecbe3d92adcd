"""The terminal loop of `promptopt label`: one answer at a time, the judge hidden until labelled.

Each answer shows its case, input, expected behaviour, answer and tool calls; the labeller types
a key (and Enter) per criterion. Only when every asked criterion of the answer is labelled are
the judge's levels and reasoning shown, so the label is the person's own. Each label is
committed on its own, so quitting (or a lost terminal) loses nothing and the next
`promptopt label` continues with the next unlabelled answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from pytest_promptopt.redaction import for_terminal

if TYPE_CHECKING:
    from pytest_promptopt.storage import Database
    from pytest_promptopt.storage.repositories import LabelTarget

KEYS = "1-5 level, p pass, f fail, s skip this answer, n add a note, q quit"
CHOICES = "[1-5 p f s n q]"
MAX_SHOWN = 4000
MAX_NOTE = 10_000


@dataclass
class Answer:
    """What the loop shows of one answer, read out of the database before the loop starts."""

    evaluation_id: int
    suite: str
    case_key: str
    sample: int
    input_message: str
    expected: str | None
    response: str
    tool_calls: list[Any] | None
    missing: tuple[str, ...]
    judge_scores: dict[str, float | None]
    score: float
    passed: bool
    reasoning: str | None


@dataclass
class Tally:
    """What one loop did: labels written, answers fully labelled, answers skipped."""

    labels: int = 0
    answers: int = 0
    skipped: int = 0
    quit: bool = False
    gone: list[int] = field(default_factory=list)


def answer_of(target: LabelTarget) -> Answer:
    """The plain data of a label target, safe to keep after its session closed."""
    from pytest_promptopt.storage.repositories import judged_criteria

    ev, case = target.evaluation, target.case
    scores = {name: ev.scores.get(name) if ev.scores else getattr(ev, name, None)
              for name in judged_criteria(ev)}  # fmt: skip
    return Answer(
        evaluation_id=ev.id,
        suite=case.suite,
        case_key=case.case_key,
        sample=ev.sample,
        input_message=case.input_message,
        expected=case.expected_behavior,
        response=ev.model_response,
        tool_calls=ev.tool_calls,
        missing=target.missing,
        judge_scores=scores,
        score=ev.overall_score,
        passed=ev.passed,
        reasoning=ev.reasoning,
    )


def judge_level(score: float | None) -> str:
    """The judge's level 1-5 of a criterion score (scored (level - 1) / 4), `n/a` for None."""
    return "n/a" if score is None else str(round(1 + 4 * score))


def _block(title: str, text: str) -> list[str]:
    """`title:` and `text` indented, cut at MAX_SHOWN characters."""
    if len(text) > MAX_SHOWN:
        text = f"{text[:MAX_SHOWN]}\n... ({len(text) - MAX_SHOWN} more characters)"
    return [f"{title}:", *(f"  {line}" for line in (text.splitlines() or [""]))]


def describe(answer: Answer, index: int, total: int) -> str:
    """The answer as shown before it is labelled (nothing of the judge's verdict)."""
    lines = [
        "",
        f"[{index}/{total}] suite {answer.suite}, case {answer.case_key}, sample "
        f"{answer.sample} (evaluation {answer.evaluation_id})",
        *_block("input", answer.input_message),
        *_block("expected", answer.expected or "(no expected behaviour given)"),
        *_block("answer", answer.response),
    ]
    for call in answer.tool_calls or []:
        name = call.get("name", "?") if isinstance(call, dict) else "?"
        body = call.get("input") if isinstance(call, dict) else call
        lines += _block(f"tool call {name}", json.dumps(body, ensure_ascii=False, default=str))
    return "\n".join(lines)


def reveal(answer: Answer, given: dict[str, str]) -> str:
    """The judge's verdict next to the labels just given."""
    verdict = "passed" if answer.passed else "failed"
    lines = [f"judge: {verdict}, score {answer.score:.2f}"]
    for criterion, yours in given.items():
        if criterion in answer.judge_scores:
            theirs = judge_level(answer.judge_scores[criterion])
        else:
            theirs = f"{verdict} (score {answer.score:.2f})"
        lines.append(f"  {criterion}: you {yours}, judge {theirs}")
    if answer.judge_scores:
        levels = ", ".join(f"{c} {judge_level(s)}" for c, s in answer.judge_scores.items())
        lines.append(f"  judge's levels: {levels}")
    lines += [f"  {line}" for line in _block("reasoning", answer.reasoning or "(none)")]
    return "\n".join(lines)


def _read(text: str) -> str | None:
    """One line typed by the labeller, stripped; None at the end of input or Ctrl-C."""
    try:
        value = click.prompt(for_terminal(text), default="", show_default=False)
    except click.Abort:
        click.echo()
        return None
    return str(value).strip()


def label_answers(db: Database, answers: list[Answer], labeller: str) -> Tally:
    """Ask for each answer's missing labels, committing each; stop at `q` or end of input."""
    tally = Tally()
    for index, answer in enumerate(answers, start=1):
        click.echo(for_terminal(describe(answer, index, len(answers))))
        given: dict[str, str] = {}
        outcome = _label_one(db, answer, labeller, given, tally)
        if outcome == "quit":
            tally.quit = True
            break
        if outcome == "skip":
            tally.skipped += 1
            continue
        if outcome == "done":
            tally.answers += 1
            click.echo(for_terminal(reveal(answer, given)))
    return tally


def _label_one(
    db: Database, answer: Answer, labeller: str, given: dict[str, str], tally: Tally
) -> str:
    """Label one answer's missing criteria: `done`, `skip`, `quit` or `gone` (row deleted)."""
    for criterion in answer.missing:
        note: str | None = None
        while True:
            typed = _read(f"{criterion} {CHOICES}")
            key = typed.lower() if typed is not None else None
            if key is None or key == "q":
                return "quit"
            if key == "s":
                return "skip"
            if key == "n":
                text = _read("note")
                if text is None:
                    return "quit"
                note = text[:MAX_NOTE] or None
                continue
            if key in {"1", "2", "3", "4", "5"}:
                level, passed, shown = int(key), None, key
            elif key in {"p", "f"}:
                level, passed, shown = None, key == "p", "pass" if key == "p" else "fail"
            else:
                click.echo(for_terminal(f"unknown key {key!r}: type {KEYS}, then Enter"))
                continue
            if not _write(db, answer.evaluation_id, criterion, level, passed, labeller, note):
                tally.gone.append(answer.evaluation_id)
                click.echo(f"evaluation {answer.evaluation_id} was deleted meanwhile; skipped")
                return "gone"
            tally.labels += 1
            given[criterion] = shown
            break
    return "done"


def _write(
    db: Database,
    evaluation_id: int,
    criterion: str,
    level: int | None,
    passed: bool | None,
    labeller: str,
    note: str | None,
) -> bool:
    """Commit one label in its own transaction; False when the evaluation no longer exists."""
    from pytest_promptopt.storage import transaction
    from pytest_promptopt.storage.repositories import LabelInput

    with transaction(db) as repos:
        evaluation = repos.evaluations.get(evaluation_id)
        if evaluation is None:
            return False
        label = LabelInput(criterion, level, passed, labeller, note)
        repos.labels.put(evaluation, label)
    return True
