"""Python checks the unit tests name by import path (`tests.support.pychecks:NAME`)."""

from __future__ import annotations

from typing import Any

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.records.totals import Usage
from pytest_promptopt.suites.spec import Case


def mentions_case(answer: Answer, case: Case) -> bool:
    """Passes when the answer contains the case's id."""
    return case.id in answer.text


def cheap(answer: Answer, case: Case, figures: Usage) -> tuple[bool, str]:
    """Passes under 100 output tokens; the detail tells the count."""
    return figures.output_tokens < 100, f"{figures.output_tokens} output tokens"


def politeness(answer: Answer, case: Case) -> float:
    """A score: 0.8 with 'please', else 0.2."""
    return 0.8 if "please" in answer.text else 0.2


async def async_short(answer: Answer, case: Case) -> tuple[bool, str]:
    """An async check: passes under 10 chars."""
    return len(answer.text) < 10, f"{len(answer.text)} chars"


def broken(answer: Answer, case: Case) -> bool:
    """Always raises."""
    raise KeyError("no such field")


def wrong_type(answer: Answer, case: Case) -> Any:
    """Returns something a check may not."""
    return "yes"


def raw_message(answer: Answer, case: Case) -> tuple[bool, str]:
    """Passes when the answer's raw content blocks are there; the detail shows their types."""
    blocks = answer.message or ()
    return bool(blocks), ",".join(str(b.get("type")) for b in blocks)


NOT_A_FUNCTION = 3
